//! DynamoDB tables from `AWS::DynamoDB::Table` resources: key schema,
//! global and local secondary indexes, TTL.

use super::*;

fn key_schema(logical_id: &str, value: Option<&Value>) -> Result<KeySchema, TemplateError> {
    let Some(Value::Array(items)) = value else {
        return Err(invalid(logical_id, "KeySchema is required"));
    };
    let mut partition = None;
    let mut sort = None;
    for item in items {
        let name = item
            .get("AttributeName")
            .and_then(Value::as_str)
            .map(str::to_owned);
        match item.get("KeyType").and_then(Value::as_str) {
            Some("HASH") => partition = name,
            Some("RANGE") => sort = name,
            other => return Err(invalid(logical_id, format!("KeyType {other:?}"))),
        }
    }
    Ok(KeySchema {
        partition: partition.ok_or_else(|| invalid(logical_id, "KeySchema has no HASH key"))?,
        sort,
    })
}

fn indexes(logical_id: &str, value: Option<&Value>) -> Result<Vec<SecondaryIndex>, TemplateError> {
    let Some(Value::Array(items)) = value else {
        return Ok(Vec::new());
    };
    items
        .iter()
        .map(|item| {
            let projection = item.get("Projection");
            Ok(SecondaryIndex {
                name: item
                    .get("IndexName")
                    .and_then(Value::as_str)
                    .ok_or_else(|| invalid(logical_id, "an index needs IndexName"))?
                    .to_owned(),
                keys: key_schema(logical_id, item.get("KeySchema"))?,
                projection: projection
                    .and_then(|p| p.get("ProjectionType"))
                    .and_then(Value::as_str)
                    .unwrap_or("ALL")
                    .to_owned(),
                non_key_attributes: projection
                    .and_then(|p| p.get("NonKeyAttributes"))
                    .and_then(Value::as_array)
                    .map(|a| a.iter().filter_map(scalar_string).collect())
                    .unwrap_or_default(),
            })
        })
        .collect()
}

pub(super) fn table(
    logical_id: &str,
    resource: &Map<String, Value>,
    scope: &Scope,
) -> Result<Table, TemplateError> {
    let props = properties(logical_id, resource, scope)?;
    let mut attributes = BTreeMap::new();
    for definition in props
        .get("AttributeDefinitions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let name = definition
            .get("AttributeName")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                invalid(
                    logical_id,
                    "AttributeDefinitions entry without AttributeName",
                )
            })?;
        let kind = match definition.get("AttributeType").and_then(Value::as_str) {
            Some("S") => AttributeType::S,
            Some("N") => AttributeType::N,
            Some("B") => AttributeType::B,
            other => {
                return Err(invalid(
                    logical_id,
                    format!("AttributeType {other:?} of {name}"),
                ));
            }
        };
        attributes.insert(name.to_owned(), kind);
    }
    let keys = key_schema(logical_id, props.get("KeySchema"))?;
    let global_indexes = indexes(logical_id, props.get("GlobalSecondaryIndexes"))?;
    let local_indexes = indexes(logical_id, props.get("LocalSecondaryIndexes"))?;
    let key_names = std::iter::once(&keys)
        .chain(global_indexes.iter().map(|i| &i.keys))
        .chain(local_indexes.iter().map(|i| &i.keys))
        .flat_map(|k| std::iter::once(&k.partition).chain(k.sort.as_ref()));
    for name in key_names {
        if !attributes.contains_key(name) {
            return Err(invalid(
                logical_id,
                format!("key attribute {name} has no AttributeDefinitions entry"),
            ));
        }
    }
    let ttl = props.get("TimeToLiveSpecification");
    let ttl_enabled = ttl
        .and_then(|t| t.get("Enabled"))
        .and_then(scalar_string)
        .as_deref()
        == Some("true");
    let ttl_attribute = if ttl_enabled {
        Some(
            ttl.and_then(|t| t.get("AttributeName"))
                .and_then(Value::as_str)
                .ok_or_else(|| invalid(logical_id, "TimeToLiveSpecification needs AttributeName"))?
                .to_owned(),
        )
    } else {
        None
    };
    Ok(Table {
        logical_id: logical_id.to_owned(),
        table_name: scope.resources[logical_id].reference.clone(),
        attributes,
        keys,
        global_indexes,
        local_indexes,
        ttl_attribute,
        billing_mode: string_prop(&props, "BillingMode")
            .unwrap_or_else(|| "PROVISIONED".to_owned()),
    })
}
