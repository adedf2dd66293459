//! What the metering proxy does to DynamoDB's JSON 1.0 bodies, as pure
//! functions: ask for `ReturnConsumedCapacity: TOTAL` when the caller did
//! not ([`prepare_request`]), read `ConsumedCapacity` back (one object, or a
//! list for the batch and transaction operations) and take it out of the
//! answer when the caller had not asked ([`read_answer`]).
//!
//! What DynamoDB Local 3.3 reports (checked against it, with on-demand
//! tables): the same units AWS documents for items that exist (4 KB read
//! units, halved for eventually consistent reads; 1 KB write units; doubled
//! for transactions; a delete billed by the deleted item's size; a GetItem
//! of a missing item 0.5 or 1). Two gaps, which the meter counts apart so
//! the cost model can price them: a Query or Scan that reads no item reports
//! 0 units (AWS bills a minimum read), and a write refused by its condition
//! (`ConditionalCheckFailedException`) reports nothing (AWS bills the write).

use serde_json::{Map, Value};

/// The JSON 1.0 target prefix of DynamoDB's operations.
pub(crate) const TARGET_PREFIX: &str = "DynamoDB_20120810.";

/// Whether an operation is billed in read or write units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    /// Read request units.
    Read,
    /// Write request units.
    Write,
    /// Not billed per request (control plane: DescribeTable, CreateTable...).
    Control,
}

/// The operations that take `ReturnConsumedCapacity`, and how they are billed.
pub(crate) fn access_of(operation: &str) -> Access {
    match operation {
        "GetItem" | "Query" | "Scan" | "BatchGetItem" | "TransactGetItems" => Access::Read,
        "PutItem" | "UpdateItem" | "DeleteItem" | "BatchWriteItem" | "TransactWriteItems" => {
            Access::Write
        }
        "ExecuteStatement" | "BatchExecuteStatement" | "ExecuteTransaction" => Access::Write,
        _ => Access::Control,
    }
}

/// How a PartiQL request is billed: reads when every statement is a SELECT.
fn partiql_access(request: &Map<String, Value>) -> Access {
    let statements: Vec<&str> = match request
        .get("Statements")
        .or(request.get("TransactStatements"))
    {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|item| item.get("Statement").and_then(Value::as_str))
            .collect(),
        _ => request
            .get("Statement")
            .and_then(Value::as_str)
            .into_iter()
            .collect(),
    };
    let is_select = |s: &&str| s.trim_start().to_ascii_uppercase().starts_with("SELECT");
    if !statements.is_empty() && statements.iter().all(is_select) {
        Access::Read
    } else {
        Access::Write
    }
}

/// A request as the proxy forwards it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PreparedRequest {
    /// The body to forward (the caller's, or with `ReturnConsumedCapacity` added).
    pub body: Vec<u8>,
    /// Whether the body was changed.
    pub changed: bool,
    /// Whether the caller asked for `ConsumedCapacity` itself (TOTAL or INDEXES).
    pub caller_asked: bool,
    /// Read or write units.
    pub access: Access,
    /// `ConsistentRead: true`.
    pub consistent_read: bool,
    /// The table it names (`TableName`, or the first of `RequestItems`).
    pub table: Option<String>,
}

/// The table a request names.
fn table_of(request: &Map<String, Value>) -> Option<String> {
    if let Some(name) = request.get("TableName").and_then(Value::as_str) {
        return Some(name.to_owned());
    }
    if let Some(Value::Object(items)) = request.get("RequestItems") {
        return items.keys().next().cloned();
    }
    let first = request
        .get("TransactItems")?
        .as_array()?
        .first()?
        .as_object()?;
    first
        .values()
        .find_map(|op| op.get("TableName").and_then(Value::as_str))
        .map(str::to_owned)
}

/// Adds `"ReturnConsumedCapacity": "TOTAL"` to a request of an operation that
/// takes it, unless the caller asked for TOTAL or INDEXES itself. A body that
/// is not a JSON object is forwarded untouched (DynamoDB answers the error).
pub(crate) fn prepare_request(operation: &str, body: &[u8]) -> PreparedRequest {
    let untouched = |access| PreparedRequest {
        body: body.to_vec(),
        changed: false,
        caller_asked: false,
        access,
        consistent_read: false,
        table: None,
    };
    let access = access_of(operation);
    if access == Access::Control {
        return untouched(access);
    }
    let Ok(Value::Object(mut request)) = serde_json::from_slice::<Value>(body) else {
        return untouched(access);
    };
    let access = if operation.contains("Statement") || operation == "ExecuteTransaction" {
        partiql_access(&request)
    } else {
        access
    };
    let consistent_read = request.get("ConsistentRead") == Some(&Value::Bool(true));
    let table = table_of(&request);
    let caller_asked = matches!(
        request
            .get("ReturnConsumedCapacity")
            .and_then(Value::as_str),
        Some("TOTAL" | "INDEXES")
    );
    if caller_asked {
        return PreparedRequest {
            body: body.to_vec(),
            changed: false,
            caller_asked,
            access,
            consistent_read,
            table,
        };
    }
    request.insert("ReturnConsumedCapacity".into(), Value::from("TOTAL"));
    PreparedRequest {
        body: Value::Object(request).to_string().into_bytes(),
        changed: true,
        caller_asked,
        access,
        consistent_read,
        table,
    }
}

/// One `ConsumedCapacity` entry.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Consumed {
    pub table: String,
    /// `CapacityUnits`.
    pub capacity_units: f64,
    /// `ReadCapacityUnits`, when given.
    pub read_units: Option<f64>,
    /// `WriteCapacityUnits`, when given.
    pub write_units: Option<f64>,
}

/// What an answer said.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Answer {
    /// The `ConsumedCapacity` entries.
    pub consumed: Vec<Consumed>,
    /// `Count` (Query and Scan).
    pub count: Option<u64>,
    /// The body the caller gets, when it differs from DynamoDB's (the figure
    /// taken out because the caller had not asked for it).
    pub rewritten: Option<Vec<u8>>,
}

fn consumed_entry(value: &Value) -> Option<Consumed> {
    let object = value.as_object()?;
    let number = |key: &str| object.get(key).and_then(Value::as_f64);
    Some(Consumed {
        table: object
            .get("TableName")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        capacity_units: number("CapacityUnits").unwrap_or(0.0),
        read_units: number("ReadCapacityUnits"),
        write_units: number("WriteCapacityUnits"),
    })
}

/// Reads a successful answer's `ConsumedCapacity`; with `strip`, the body
/// without it (other fields untouched).
pub(crate) fn read_answer(body: &[u8], strip: bool) -> Answer {
    let Ok(Value::Object(mut answer)) = serde_json::from_slice::<Value>(body) else {
        return Answer::default();
    };
    let consumed = match answer.get("ConsumedCapacity") {
        Some(Value::Array(entries)) => entries.iter().filter_map(consumed_entry).collect(),
        Some(entry) => consumed_entry(entry).into_iter().collect(),
        None => Vec::new(),
    };
    let count = answer.get("Count").and_then(Value::as_u64);
    let rewritten = (strip && answer.remove("ConsumedCapacity").is_some())
        .then(|| Value::Object(answer).to_string().into_bytes());
    Answer {
        consumed,
        count,
        rewritten,
    }
}

/// The short error type of an error answer (`ConditionalCheckFailedException`).
pub(crate) fn error_type(body: &[u8]) -> String {
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get("__type").and_then(Value::as_str).map(str::to_owned))
        .map(|t| t.rsplit('#').next().unwrap_or_default().to_owned())
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| "UnknownError".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn body(value: Value) -> Vec<u8> {
        value.to_string().into_bytes()
    }

    #[test]
    fn total_is_asked_for_when_missing_or_none() {
        let prepared = prepare_request(
            "Query",
            &body(json!({"TableName": "relay", "ConsistentRead": true})),
        );
        assert!(prepared.changed && !prepared.caller_asked && prepared.consistent_read);
        assert_eq!(prepared.access, Access::Read);
        assert_eq!(prepared.table.as_deref(), Some("relay"));
        let sent: Value = serde_json::from_slice(&prepared.body).unwrap();
        assert_eq!(sent["ReturnConsumedCapacity"], "TOTAL");
        assert_eq!(sent["ConsistentRead"], true);

        let none = prepare_request(
            "PutItem",
            &body(json!({"TableName": "t", "ReturnConsumedCapacity": "NONE"})),
        );
        assert!(none.changed && !none.caller_asked);
        assert_eq!(none.access, Access::Write);
    }

    #[test]
    fn a_caller_that_asked_is_left_alone() {
        for asked in ["TOTAL", "INDEXES"] {
            let original = body(json!({"TableName": "t", "ReturnConsumedCapacity": asked}));
            let prepared = prepare_request("GetItem", &original);
            assert!(!prepared.changed && prepared.caller_asked);
            assert_eq!(prepared.body, original);
        }
    }

    #[test]
    fn control_plane_and_garbage_pass_untouched() {
        let describe = body(json!({"TableName": "t"}));
        let prepared = prepare_request("DescribeTable", &describe);
        assert_eq!(
            (prepared.access, prepared.changed),
            (Access::Control, false)
        );
        assert_eq!(prepared.body, describe);
        let garbage = prepare_request("PutItem", b"{not json");
        assert!(!garbage.changed);
        assert_eq!(garbage.body, b"{not json");
    }

    #[test]
    fn batch_and_partiql_tables_and_access() {
        let batch = prepare_request(
            "BatchWriteItem",
            &body(json!({"RequestItems": {"relay": [{"DeleteRequest": {"Key": {}}}]}})),
        );
        assert_eq!(batch.table.as_deref(), Some("relay"));
        let transact = prepare_request(
            "TransactWriteItems",
            &body(json!({"TransactItems": [{"Put": {"TableName": "s", "Item": {}}}]})),
        );
        assert_eq!(transact.table.as_deref(), Some("s"));
        let select = prepare_request(
            "ExecuteStatement",
            &body(json!({"Statement": "  select * from t"})),
        );
        assert_eq!(select.access, Access::Read);
        let update = prepare_request(
            "BatchExecuteStatement",
            &body(json!({"Statements": [{"Statement": "SELECT 1"}, {"Statement": "UPDATE t"}]})),
        );
        assert_eq!(update.access, Access::Write);
    }

    #[test]
    fn consumed_capacity_is_read_and_stripped() {
        let answer = body(json!({
            "Items": [], "Count": 0, "ScannedCount": 0,
            "ConsumedCapacity": {"TableName": "relay", "CapacityUnits": 0.0}
        }));
        let read = read_answer(&answer, true);
        assert_eq!(read.consumed.len(), 1);
        assert_eq!(read.consumed[0].table, "relay");
        assert_eq!(read.count, Some(0));
        let stripped: Value = serde_json::from_slice(&read.rewritten.unwrap()).unwrap();
        assert_eq!(
            stripped,
            json!({"Items": [], "Count": 0, "ScannedCount": 0})
        );

        let kept = read_answer(&answer, false);
        assert!(kept.rewritten.is_none());
    }

    #[test]
    fn batch_answers_carry_a_list() {
        let answer = body(json!({
            "UnprocessedItems": {},
            "ConsumedCapacity": [
                {"TableName": "a", "CapacityUnits": 7.0},
                {"TableName": "b", "CapacityUnits": 2.0, "WriteCapacityUnits": 2.0}
            ]
        }));
        let read = read_answer(&answer, true);
        let units: Vec<(String, f64, Option<f64>)> = read
            .consumed
            .iter()
            .map(|c| (c.table.clone(), c.capacity_units, c.write_units))
            .collect();
        assert_eq!(
            units,
            [
                ("a".to_owned(), 7.0, None),
                ("b".to_owned(), 2.0, Some(2.0))
            ]
        );
        let stripped: Value = serde_json::from_slice(&read.rewritten.unwrap()).unwrap();
        assert_eq!(stripped, json!({"UnprocessedItems": {}}));
    }

    #[test]
    fn error_types_are_short() {
        assert_eq!(
            error_type(
                br#"{"__type":"com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException","Message":"x"}"#
            ),
            "ConditionalCheckFailedException"
        );
        assert_eq!(error_type(b"oops"), "UnknownError");
    }

    proptest! {
        #[test]
        fn stripping_keeps_every_other_field(
            fields in proptest::collection::btree_map("[A-Z][a-zA-Z]{0,8}", any::<i64>(), 0..6),
            units in 0.0f64..1000.0,
        ) {
            let mut answer = Map::new();
            for (k, v) in &fields {
                answer.insert(k.clone(), json!(v));
            }
            let expected = Value::Object(answer.clone());
            answer.insert("ConsumedCapacity".into(), json!({"TableName": "t", "CapacityUnits": units}));
            let read = read_answer(&body(Value::Object(answer)), true);
            prop_assert_eq!(read.consumed[0].capacity_units, units);
            let rewritten: Value = serde_json::from_slice(&read.rewritten.unwrap()).unwrap();
            prop_assert_eq!(rewritten, expected);
        }

        #[test]
        fn any_body_is_safe(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let prepared = prepare_request("Query", &bytes);
            prop_assert!(!prepared.changed || serde_json::from_slice::<Value>(&prepared.body).is_ok());
            let _ = read_answer(&bytes, true);
            let _ = error_type(&bytes);
        }
    }
}
