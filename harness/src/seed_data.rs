//! Seed data: JSON files that fill the template's tables (seed 001 runs
//! `python infrastructure/seed_data.py`; here it is `harness seed-data`, and
//! the local stack loads every `backend/seed-data/*.json` when it starts).
//!
//! A file names each table by its logical id in backend/template.yaml, so
//! the physical name (which depends on parameters such as `Environment`)
//! comes from the template, and holds plain JSON items:
//!
//! ```json
//! {"description": "...", "tables": {"PatientsTable": [{"patientId": "pt-001", "name": "John"}]}}
//! ```
//!
//! Numbers become `N`, objects `M`, arrays `L`. Every item must carry its
//! table's key attributes with the declared types; a mistake names the file,
//! the table and the item.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::template::{self, AttributeType, LoadOptions, Table, Template};

/// Why seed data could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    /// The file could not be read.
    #[error("cannot read seed data {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not in the format, or an item does not fit its table.
    #[error("seed data {path}: {message}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// DynamoDB refused a write.
    #[error("seed data {path}: writing to {table} failed: {message}")]
    Write {
        /// The file.
        path: String,
        /// The physical table.
        table: String,
        /// The SDK's error with its context.
        message: String,
    },
    /// The template.
    #[error(transparent)]
    Template(#[from] template::TemplateError),
}

/// A seed data file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SeedFile {
    /// What the data is.
    #[serde(default)]
    pub description: Option<String>,
    /// Items by the table's logical id.
    pub tables: BTreeMap<String, Vec<Map<String, Value>>>,
}

/// Parses a seed data file's text.
pub(crate) fn parse(text: &str) -> Result<SeedFile, String> {
    serde_json::from_str(text).map_err(|e| e.to_string())
}

/// A JSON value as a DynamoDB attribute value.
pub(crate) fn to_attribute(value: &Value) -> AttributeValue {
    match value {
        Value::Null => AttributeValue::Null(true),
        Value::Bool(b) => AttributeValue::Bool(*b),
        Value::Number(n) => AttributeValue::N(n.to_string()),
        Value::String(s) => AttributeValue::S(s.clone()),
        Value::Array(items) => AttributeValue::L(items.iter().map(to_attribute).collect()),
        Value::Object(map) => AttributeValue::M(
            map.iter()
                .map(|(k, v)| (k.clone(), to_attribute(v)))
                .collect(),
        ),
    }
}

/// Checks that an item carries its table's keys with the declared types.
pub(crate) fn check_keys(table: &Table, item: &Map<String, Value>) -> Result<(), String> {
    let keys = std::iter::once(&table.keys.partition).chain(table.keys.sort.as_ref());
    for key in keys {
        let declared = table
            .attributes
            .get(key)
            .copied()
            .unwrap_or(AttributeType::S);
        let fits = match (declared, item.get(key)) {
            (AttributeType::S, Some(Value::String(s))) => !s.is_empty(),
            (AttributeType::N, Some(Value::Number(_))) => true,
            (AttributeType::B, Some(Value::String(_))) => true,
            _ => false,
        };
        if !fits {
            return Err(format!(
                "key attribute {key} must be a non-empty {declared:?} value"
            ));
        }
    }
    Ok(())
}

/// A DynamoDB item.
pub(crate) type Item = HashMap<String, AttributeValue>;

/// The items of a file per physical table, checked and converted.
pub(crate) fn plan(
    file: &SeedFile,
    template: &Template,
    path: &Path,
) -> Result<Vec<(String, Vec<Item>)>, SeedError> {
    let invalid = |message: String| SeedError::Invalid {
        path: path.display().to_string(),
        message,
    };
    let mut planned = Vec::new();
    for (logical_id, items) in &file.tables {
        let table = template.tables.get(logical_id).ok_or_else(|| {
            invalid(format!(
                "no table {logical_id} in the template (tables: {})",
                template
                    .tables
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })?;
        let mut converted = Vec::with_capacity(items.len());
        for (index, item) in items.iter().enumerate() {
            check_keys(table, item)
                .map_err(|message| invalid(format!("{logical_id} item {index}: {message}")))?;
            converted.push(
                item.iter()
                    .map(|(k, v)| (k.clone(), to_attribute(v)))
                    .collect(),
            );
        }
        planned.push((table.table_name.clone(), converted));
    }
    Ok(planned)
}

/// Loads one file into DynamoDB; returns the items written per physical table.
pub(crate) async fn load_file(
    client: &Client,
    template: &Template,
    path: &Path,
) -> Result<BTreeMap<String, usize>, SeedError> {
    let text = std::fs::read_to_string(path).map_err(|source| SeedError::Io {
        path: path.display().to_string(),
        source,
    })?;
    let file = parse(&text).map_err(|message| SeedError::Invalid {
        path: path.display().to_string(),
        message,
    })?;
    let mut written = BTreeMap::new();
    for (table, items) in plan(&file, template, path)? {
        let write_error = |message: String| SeedError::Write {
            path: path.display().to_string(),
            table: table.clone(),
            message,
        };
        for batch in items.chunks(25) {
            let mut pending: Vec<WriteRequest> = batch
                .iter()
                .map(|item| {
                    let put = PutRequest::builder()
                        .set_item(Some(item.clone()))
                        .build()
                        .expect("the item is set");
                    WriteRequest::builder().put_request(put).build()
                })
                .collect();
            for _attempt in 0..5 {
                if pending.is_empty() {
                    break;
                }
                let answer = client
                    .batch_write_item()
                    .request_items(&table, pending.clone())
                    .send()
                    .await
                    .map_err(|e| write_error(DisplayErrorContext(e).to_string()))?;
                pending = answer
                    .unprocessed_items
                    .and_then(|mut left| left.remove(&table))
                    .unwrap_or_default();
            }
            if !pending.is_empty() {
                return Err(write_error(format!(
                    "{} items left unprocessed",
                    pending.len()
                )));
            }
        }
        *written.entry(table).or_default() += items.len();
    }
    Ok(written)
}

/// The seed data directory of a template: `seed-data/` beside it.
pub(crate) fn dir_for(template_path: &Path) -> PathBuf {
    template_path
        .parent()
        .unwrap_or(Path::new("."))
        .join("seed-data")
}

/// The `*.json` files of a directory, sorted (none if it does not exist).
pub(crate) fn files_in(dir: &Path) -> Result<Vec<PathBuf>, SeedError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(SeedError::Io {
                path: dir.display().to_string(),
                source,
            });
        }
    };
    let mut files: Vec<PathBuf> = entries
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    files.sort();
    Ok(files)
}

/// Loads every file of a directory (the local stack calls this on start).
pub(crate) async fn load_dir(
    client: &Client,
    template: &Template,
    dir: &Path,
) -> Result<BTreeMap<String, usize>, SeedError> {
    let mut written = BTreeMap::new();
    for file in files_in(dir)? {
        for (table, count) in load_file(client, template, &file).await? {
            *written.entry(table).or_default() += count;
        }
    }
    Ok(written)
}

/// `harness seed-data`: loads the files into a DynamoDB endpoint (DynamoDB
/// Local, a running `harness up`), or into AWS with the default credentials.
/// Prints one JSON line per file.
pub(crate) async fn run(args: &crate::cli::SeedDataArgs) -> Result<ExitCode, SeedError> {
    let template_path = match &args.template {
        Some(path) => path.clone(),
        None => find_template()?,
    };
    let mut overrides = BTreeMap::new();
    for pair in &args.parameter_overrides {
        let (name, value) = pair.split_once('=').ok_or_else(|| SeedError::Invalid {
            path: template_path.display().to_string(),
            message: format!("parameter override {pair:?} is not Name=Value"),
        })?;
        overrides.insert(name.to_owned(), value.to_owned());
    }
    let template = template::load_file(
        &template_path,
        &LoadOptions {
            region: args.region.clone(),
            parameter_overrides: overrides,
            ..LoadOptions::default()
        },
    )?;
    let client = match &args.dynamodb_endpoint {
        // DynamoDB Local without `-sharedDb` keeps one database per access
        // key: the key of the environment, as the AWS CLI and boto3 would.
        Some(endpoint) => match std::env::var("AWS_ACCESS_KEY_ID") {
            Ok(key) if !key.is_empty() => {
                crate::dynamodb::client_as(endpoint, &args.region, &key).await
            }
            _ => crate::dynamodb::client(endpoint, &args.region).await,
        },
        None => {
            let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
                .region(aws_config::Region::new(args.region.clone()))
                .load()
                .await;
            Client::new(&config)
        }
    };
    let files = match &args.file {
        Some(file) => vec![file.clone()],
        None => files_in(&dir_for(&template_path))?,
    };
    for file in files {
        let written = load_file(&client, &template, &file).await?;
        println!(
            "{}",
            serde_json::json!({"event": "seeded", "file": file.display().to_string(), "items": written})
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn find_template() -> Result<PathBuf, SeedError> {
    let start = std::env::current_dir().map_err(|source| SeedError::Io {
        path: ".".to_owned(),
        source,
    })?;
    start
        .ancestors()
        .map(|dir| dir.join("backend").join("template.yaml"))
        .find(|candidate| candidate.is_file())
        .ok_or_else(|| SeedError::Invalid {
            path: start.display().to_string(),
            message: "no backend/template.yaml here or above; pass --template".to_owned(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn backend_template() -> Template {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../backend/template.yaml");
        template::load_file(&path, &LoadOptions::default()).unwrap()
    }

    #[test]
    fn the_backend_seed_data_fits_the_template() {
        let template = backend_template();
        let dir = dir_for(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../backend/template.yaml"));
        let files = files_in(&dir).unwrap();
        assert!(!files.is_empty(), "backend/seed-data has files");
        for path in files {
            let file = parse(&std::fs::read_to_string(&path).unwrap()).unwrap();
            let planned = plan(&file, &template, &path).unwrap();
            assert!(planned.iter().all(|(_, items)| !items.is_empty()));
        }
    }

    #[test]
    fn mistakes_name_the_table_and_item() {
        let template = backend_template();
        let path = Path::new("x.json");
        let unknown = parse(r#"{"tables": {"NoSuchTable": [{"a": "b"}]}}"#).unwrap();
        let error = plan(&unknown, &template, path).unwrap_err().to_string();
        assert!(
            error.contains("NoSuchTable") && error.contains("PatientsTable"),
            "{error}"
        );
        let keyless =
            parse(r#"{"tables": {"PatientsTable": [{"patientId": "p"}, {"name": "x"}]}}"#).unwrap();
        let error = plan(&keyless, &template, path).unwrap_err().to_string();
        assert!(
            error.contains("PatientsTable item 1") && error.contains("patientId"),
            "{error}"
        );
        assert!(parse(r#"{"tables": {}, "extra": 1}"#).is_err());
    }

    #[test]
    fn values_convert() {
        let item = serde_json::json!({"n": 82, "l": ["a"], "m": {"b": true}, "z": null});
        let AttributeValue::M(map) = to_attribute(&item) else {
            panic!("an object is a map")
        };
        assert_eq!(map["n"], AttributeValue::N("82".into()));
        assert_eq!(
            map["l"],
            AttributeValue::L(vec![AttributeValue::S("a".into())])
        );
        assert_eq!(map["z"], AttributeValue::Null(true));
    }

    proptest! {
        #[test]
        fn arbitrary_files_never_panic(text in "\\PC{0,200}") {
            let _ = parse(&text);
        }
    }
}
