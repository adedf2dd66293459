//! Every item of a table: the paged, strongly consistent Scan the suites
//! and tests read the store with.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;

/// One item.
pub type Item = HashMap<String, AttributeValue>;

/// A Scan that failed.
#[derive(Debug, thiserror::Error)]
#[error("Scan {table}: {message}")]
pub struct ScanError {
    /// The table.
    pub table: String,
    /// The SDK's error, with its context.
    pub message: String,
}

/// Every item of `table`, page after page (strongly consistent reads).
pub async fn scan_all(client: &Client, table: &str) -> Result<Vec<Item>, ScanError> {
    let mut items = Vec::new();
    let mut start: Option<Item> = None;
    loop {
        let page = client
            .scan()
            .table_name(table)
            .consistent_read(true)
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .map_err(|e| ScanError {
                table: table.to_owned(),
                message: aws_sdk_dynamodb::error::DisplayErrorContext(e).to_string(),
            })?;
        items.extend(page.items.unwrap_or_default());
        match page.last_evaluated_key {
            Some(key) if !key.is_empty() => start = Some(key),
            _ => return Ok(items),
        }
    }
}
