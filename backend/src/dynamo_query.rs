//! Reading every page of a DynamoDB Query: the one loop over
//! `LastEvaluatedKey` the backend's tables share.

use std::collections::HashMap;

use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::query::QueryError;
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::types::AttributeValue;

/// A DynamoDB item.
pub(crate) type Item = HashMap<String, AttributeValue>;

/// Every item `query` finds, over all its pages, in the order DynamoDB
/// returns them.
pub(crate) async fn query_all(
    query: QueryFluentBuilder,
) -> Result<Vec<Item>, SdkError<QueryError, HttpResponse>> {
    let mut items = Vec::new();
    let mut start = None;
    loop {
        let page = query.clone().set_exclusive_start_key(start).send().await?;
        items.extend(page.items.unwrap_or_default());
        match page.last_evaluated_key {
            Some(key) if !key.is_empty() => start = Some(key),
            _ => return Ok(items),
        }
    }
}
