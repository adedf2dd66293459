//! The question bank (`ielts-assessment-questions`, GSI `assessment_type-index`)
//! and the rubrics (`ielts-assessment-rubrics`): practice questions for
//! signed-in users (answer keys never leave the API), and the admin routes
//! that add and remove questions and set the band descriptors the writing
//! prompt includes (rubric `writing_{task_type}`).

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::assessments::TYPES;
use super::auth::{authenticate, require_admin};
use super::input::{ApiRequest, Checks, MAX_JSON_BODY};
use super::problem::{ApiError, ApiResult};
use super::store::{
    self, Item, conditional_failed, decode_cursor, encode_cursor, get_item, get_s, s, store_error,
};
use super::writing::TaskType;
use super::{ApiResponse, HttpDeps};
use crate::clock;
use crate::dynamo_json;

/// The modules a reading or listening set belongs to.
pub(crate) const MODULES: [&str; 2] = ["academic", "general_training"];

/// A question for candidates: everything but the answer key.
pub(crate) fn public_json(item: &Item) -> Map<String, Value> {
    store::to_json(item, &["answer_key"])
}

/// The question `id` of `assessment_type`: 404 when missing, 400 when of another type.
pub(crate) async fn find(deps: &HttpDeps, id: &str, assessment_type: &str) -> ApiResult<Item> {
    let not_found = || ApiError::NotFound(format!("Question {id} not found"));
    if !store::plausible_id(id) {
        return Err(not_found());
    }
    let item = get_item(&deps.db, &deps.tables.questions, "question_id", id)
        .await?
        .ok_or_else(not_found)?;
    let actual = get_s(&item, "assessment_type").unwrap_or_default();
    if actual != assessment_type {
        return Err(ApiError::field(
            "question_id",
            format!("question {id} is a {actual} question, not {assessment_type}"),
        ));
    }
    Ok(item)
}

/// A question's answer key: question number to the accepted answers.
pub(crate) fn answer_key(item: &Item) -> BTreeMap<String, Vec<String>> {
    let map = dynamo_json::from_item(item);
    map.get("answer_key")
        .and_then(Value::as_object)
        .map(|key| {
            key.iter()
                .map(|(number, accepted)| {
                    let accepted = match accepted {
                        Value::Array(items) => items
                            .iter()
                            .filter_map(Value::as_str)
                            .map(str::to_owned)
                            .collect(),
                        Value::String(one) => vec![one.clone()],
                        _ => Vec::new(),
                    };
                    (number.clone(), accepted)
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The descriptors of a rubric, when it exists.
pub(crate) async fn rubric_descriptors(
    deps: &HttpDeps,
    rubric_id: &str,
) -> ApiResult<Option<BTreeMap<String, String>>> {
    let Some(item) = get_item(&deps.db, &deps.tables.rubrics, "rubric_id", rubric_id).await? else {
        return Ok(None);
    };
    let map = dynamo_json::from_item(&item);
    Ok(map.get("descriptors").and_then(Value::as_object).map(|d| {
        d.iter()
            .filter_map(|(k, v)| v.as_str().map(|t| (k.clone(), t.to_owned())))
            .collect()
    }))
}

/// `GET /api/questions` (`type` required; `limit`, `cursor`).
pub(crate) async fn list(deps: &HttpDeps, request: &ApiRequest) -> ApiResult<ApiResponse> {
    authenticate(deps, request).await?;
    let limit = request.page_size(20, 100)?;
    let kind = request
        .query_value("type")
        .filter(|t| TYPES.contains(t))
        .ok_or_else(|| ApiError::field("type", format!("must be one of {}", TYPES.join(", "))))?;
    let start = match request.query_value("cursor") {
        Some(cursor) => {
            let mut key = decode_cursor(cursor, &["question_id"])?;
            key.insert("assessment_type".into(), s(kind));
            Some(key)
        }
        None => None,
    };
    let page = deps
        .db
        .query()
        .table_name(&deps.tables.questions)
        .index_name("assessment_type-index")
        .key_condition_expression("assessment_type = :t")
        .expression_attribute_values(":t", s(kind))
        .limit(limit)
        .set_exclusive_start_key(start)
        .send()
        .await
        .map_err(|e| store_error("list questions", e))?;
    let questions: Vec<Value> = page
        .items()
        .iter()
        .map(|i| Value::Object(public_json(i)))
        .collect();
    let next = page
        .last_evaluated_key
        .filter(|k| !k.is_empty())
        .map(|k| encode_cursor(&k));
    Ok(ApiResponse::json(
        200,
        &json!({"questions": questions, "next_cursor": next}),
    ))
}

/// `GET /api/questions/{id}`.
pub(crate) async fn get(deps: &HttpDeps, request: &ApiRequest, id: &str) -> ApiResult<ApiResponse> {
    authenticate(deps, request).await?;
    let not_found = || ApiError::NotFound(format!("Question {id} not found"));
    if !store::plausible_id(id) {
        return Err(not_found());
    }
    let item = get_item(&deps.db, &deps.tables.questions, "question_id", id)
        .await?
        .ok_or_else(not_found)?;
    Ok(ApiResponse::json(
        200,
        &json!({"question": public_json(&item)}),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct QuestionItem {
    number: String,
    text: String,
    #[serde(default, deserialize_with = "super::input::present")]
    options: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct QuestionBody {
    assessment_type: String,
    title: String,
    #[serde(default, deserialize_with = "super::input::present")]
    test_type: Option<String>,
    #[serde(default, deserialize_with = "super::input::present")]
    task_type: Option<TaskType>,
    #[serde(default, deserialize_with = "super::input::present")]
    prompt: Option<String>,
    #[serde(default, deserialize_with = "super::input::present")]
    passage: Option<String>,
    #[serde(default, deserialize_with = "super::input::present")]
    audio_url: Option<String>,
    #[serde(default)]
    questions: Vec<QuestionItem>,
    #[serde(default)]
    answer_key: BTreeMap<String, Vec<String>>,
}

fn check_question(body: &QuestionBody) -> ApiResult<()> {
    let mut checks = Checks::default();
    let kind = body.assessment_type.as_str();
    if !TYPES.contains(&kind) {
        checks.fail(
            "assessment_type",
            format!("must be one of {}", TYPES.join(", ")),
        );
    }
    checks.text("title", &body.title, 1, 200);
    if let Some(prompt) = &body.prompt {
        checks.text("prompt", prompt, 1, 5000);
    }
    if let Some(passage) = &body.passage {
        checks.text("passage", passage, 1, 50_000);
    }
    if let Some(url) = &body.audio_url {
        checks.text("audio_url", url, 1, 2000);
    }
    match kind {
        "reading" | "listening" => {
            if !body
                .test_type
                .as_deref()
                .is_some_and(|t| MODULES.contains(&t))
            {
                checks.fail("test_type", "must be academic or general_training");
            }
            if body.questions.is_empty() || body.questions.len() > 40 {
                checks.fail("questions", "must list 1 to 40 questions");
            }
            for (index, question) in body.questions.iter().enumerate() {
                checks.text(&format!("questions.{index}.number"), &question.number, 1, 8);
                checks.text(&format!("questions.{index}.text"), &question.text, 1, 2000);
                if !body.answer_key.get(&question.number).is_some_and(|a| {
                    !a.is_empty() && a.iter().all(|x| !x.trim().is_empty() && x.len() <= 200)
                }) {
                    checks.fail(
                        &format!("answer_key.{}", question.number),
                        "needs at least one accepted answer",
                    );
                }
                if question.options.as_ref().is_some_and(|o| {
                    o.len() > 10 || o.iter().any(|x| x.is_empty() || x.len() > 500)
                }) {
                    checks.fail(
                        &format!("questions.{index}.options"),
                        "must be 1 to 10 non-empty options",
                    );
                }
            }
            if body.answer_key.len() != body.questions.len() {
                checks.fail("answer_key", "must answer exactly the listed questions");
            }
        }
        "writing" => {
            if body.task_type.is_none() {
                checks.fail("task_type", "is required for writing questions");
            }
            if body.prompt.is_none() {
                checks.fail("prompt", "is required for writing questions");
            }
        }
        _ => {
            if body.prompt.is_none() {
                checks.fail("prompt", "is required");
            }
        }
    }
    checks.finish()
}

/// `POST /api/admin/questions`.
pub(crate) async fn create(deps: &HttpDeps, request: &ApiRequest) -> ApiResult<ApiResponse> {
    require_admin(deps, request).await?;
    let body: QuestionBody = request.json(MAX_JSON_BODY)?;
    check_question(&body)?;
    let mut document = json!({
        "question_id": store::new_id(),
        "assessment_type": body.assessment_type,
        "title": body.title.trim(),
        "created_at": clock::now_rfc3339_millis(),
    });
    let optional = [
        ("test_type", body.test_type.map(Value::from)),
        ("task_type", body.task_type.map(|t| Value::from(t.as_str()))),
        ("prompt", body.prompt.map(Value::from)),
        ("passage", body.passage.map(Value::from)),
        ("audio_url", body.audio_url.map(Value::from)),
    ];
    for (name, value) in optional {
        if let Some(value) = value {
            document[name] = value;
        }
    }
    if !body.questions.is_empty() {
        document["questions"] = body
            .questions
            .iter()
            .map(|q| {
                let mut item = json!({"number": q.number, "text": q.text});
                if let Some(options) = &q.options {
                    item["options"] = json!(options);
                }
                item
            })
            .collect();
        document["answer_key"] = json!(body.answer_key);
    }
    let item = dynamo_json::to_item(document.as_object().expect("an object"));
    store::put_item(&deps.db, &deps.tables.questions, item).await?;
    Ok(ApiResponse::json(201, &json!({"question": document})))
}

/// `DELETE /api/admin/questions/{id}`.
pub(crate) async fn delete(
    deps: &HttpDeps,
    request: &ApiRequest,
    id: &str,
) -> ApiResult<ApiResponse> {
    require_admin(deps, request).await?;
    let not_found = || ApiError::NotFound(format!("Question {id} not found"));
    if !store::plausible_id(id) {
        return Err(not_found());
    }
    let deleted = deps
        .db
        .delete_item()
        .table_name(&deps.tables.questions)
        .key("question_id", s(id))
        .condition_expression("attribute_exists(question_id)")
        .send()
        .await;
    match deleted {
        Ok(_) => Ok(ApiResponse::no_content()),
        Err(e) if conditional_failed(&e) => Err(not_found()),
        Err(e) => Err(store_error("delete question", e)),
    }
}

/// `GET /api/admin/rubrics`.
pub(crate) async fn rubrics(deps: &HttpDeps, request: &ApiRequest) -> ApiResult<ApiResponse> {
    require_admin(deps, request).await?;
    let page = deps
        .db
        .scan()
        .table_name(&deps.tables.rubrics)
        .limit(100)
        .send()
        .await
        .map_err(|e| store_error("list rubrics", e))?;
    let rubrics: Vec<Value> = page
        .items()
        .iter()
        .map(|i| Value::Object(dynamo_json::from_item(i)))
        .collect();
    Ok(ApiResponse::json(200, &json!({"rubrics": rubrics})))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RubricBody {
    title: String,
    descriptors: BTreeMap<String, String>,
}

/// `PUT /api/admin/rubrics/{id}` (ids like `writing_academic_task2`).
pub(crate) async fn put_rubric(
    deps: &HttpDeps,
    request: &ApiRequest,
    id: &str,
) -> ApiResult<ApiResponse> {
    require_admin(deps, request).await?;
    let well_formed = !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !well_formed {
        return Err(ApiError::field(
            "rubric_id",
            "must be 1 to 64 of a-z, 0-9 and _",
        ));
    }
    let body: RubricBody = request.json(MAX_JSON_BODY)?;
    let mut checks = Checks::default();
    checks.text("title", &body.title, 1, 200);
    if body.descriptors.is_empty() || body.descriptors.len() > 10 {
        checks.fail("descriptors", "must have 1 to 10 criteria");
    }
    for (criterion, text) in &body.descriptors {
        checks.text(&format!("descriptors.{criterion}"), text, 1, 4000);
        if criterion.is_empty() || criterion.len() > 64 {
            checks.fail("descriptors", "criterion names are 1 to 64 characters");
        }
    }
    checks.finish()?;
    let document = json!({
        "rubric_id": id,
        "title": body.title.trim(),
        "descriptors": body.descriptors,
        "updated_at": clock::now_rfc3339_millis(),
    });
    let item = dynamo_json::to_item(document.as_object().expect("an object"));
    store::put_item(&deps.db, &deps.tables.rubrics, item).await?;
    Ok(ApiResponse::json(200, &json!({"rubric": document})))
}
