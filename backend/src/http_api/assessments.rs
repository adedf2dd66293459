//! Assessments (seed 002): writing evaluated by Nova Micro (answering
//! seed 002's `{overall_band, criteria_scores, detailed_feedback,
//! model_used}`), reading and listening scored from the question bank's
//! answer keys with the official band tables and commented by Nova Micro,
//! the history through `user_id-index` (speaking assessments, which the
//! speaking function stores with `type: speaking`, included), and one
//! assessment, only ever its owner's.

use std::collections::BTreeMap;
use std::time::Instant;

use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::auth::authenticate;
use super::entitlements::{self, Feature};
use super::input::{ApiRequest, Checks, MAX_JSON_BODY};
use super::model::converse;
use super::problem::{ApiError, ApiResult};
use super::reports::{SafetyEvent, log_model_call};
use super::scoring::{BandTable, mark, out_of_40};
use super::store::{self, Item, decode_cursor, encode_cursor, get_item, get_s, s, store_error};
use super::writing::{self, MAX_ESSAY_CHARS, TaskType};
use super::{ApiResponse, HttpDeps, questions};
use crate::clock;
use crate::dynamo_json;

/// The assessment types the history can be filtered by.
pub(crate) const TYPES: [&str; 4] = ["writing", "reading", "listening", "speaking"];

/// The largest body of a writing request (an essay of 20,000 characters in UTF-8, and JSON).
const MAX_WRITING_BODY: usize = 128 * 1024;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WritingBody {
    task_type: TaskType,
    essay: String,
    #[serde(default, deserialize_with = "super::input::present")]
    prompt: Option<String>,
    #[serde(default, deserialize_with = "super::input::present")]
    question_id: Option<String>,
}

/// Stores an assessment document (a JSON object) with its timestamp.
async fn store_assessment(deps: &HttpDeps, document: &Map<String, Value>) -> ApiResult<()> {
    let item = dynamo_json::to_item(document);
    deps.db
        .put_item()
        .table_name(&deps.tables.assessments)
        .set_item(Some(item))
        .condition_expression("attribute_not_exists(assessment_id)")
        .send()
        .await
        .map(|_| ())
        .map_err(|e| store_error("store assessment", e))
}

/// `POST /api/assessments/writing`.
pub(crate) async fn writing(deps: &HttpDeps, request: &ApiRequest) -> ApiResult<ApiResponse> {
    let principal = authenticate(deps, request).await?;
    let body: WritingBody = request.json(MAX_WRITING_BODY)?;
    let mut checks = Checks::default();
    checks.text("essay", &body.essay, 1, MAX_ESSAY_CHARS);
    if let Some(prompt) = &body.prompt {
        checks.text("prompt", prompt, 1, 2000);
    }
    if let Some(id) = &body.question_id {
        checks.text("question_id", id, 1, 128);
    }
    checks.finish()?;
    entitlements::require(deps, &principal, Feature::Writing).await?;
    let mut prompt = body.prompt.clone();
    if let Some(id) = &body.question_id {
        let question = questions::find(deps, id, "writing").await?;
        if get_s(&question, "task_type") != Some(body.task_type.as_str()) {
            return Err(ApiError::field(
                "task_type",
                format!(
                    "question {id} is a {} task",
                    get_s(&question, "task_type").unwrap_or("different")
                ),
            ));
        }
        prompt = prompt.or_else(|| get_s(&question, "prompt").map(str::to_owned));
    }
    let rubric =
        questions::rubric_descriptors(deps, &format!("writing_{}", body.task_type.as_str()))
            .await?;
    let system = writing::system_prompt(body.task_type, rubric.as_ref());
    let user = writing::user_message(prompt.as_deref(), &body.essay);
    let started = Instant::now();
    let reply = converse(deps, &system, &user, 1500).await?;
    let assessment_id = store::new_id();
    let validated = writing::validate(body.task_type, &reply.text);
    log_model_call(
        deps,
        SafetyEvent {
            user_id: &principal.user_id,
            assessment_id: validated.is_ok().then_some(assessment_id.as_str()),
            task: "writing_assessment",
            input_chars: system.len() + user.len(),
            reply: Some(&reply),
            flags: writing::input_flags(&body.essay),
            output_valid: validated.is_ok(),
        },
    )
    .await;
    let result = validated.map_err(|e| {
        tracing::error!("writing assessment refused: {e}");
        ApiError::Upstream("The writing assessment could not be completed. Try again.".into())
    })?;
    let timestamp = clock::now_rfc3339_millis();
    let word_count = writing::word_count(&body.essay);
    let answer = json!({
        "assessment_id": assessment_id,
        "type": "writing",
        "task_type": body.task_type.as_str(),
        "overall_band": result.overall_band,
        "criteria_scores": result.criteria_scores,
        "detailed_feedback": result.detailed_feedback,
        "model_used": deps.settings.model_id,
        "word_count": word_count,
        "minimum_words": body.task_type.min_words(),
        "timestamp": timestamp,
    });
    let mut document = json!({
        "assessment_id": assessment_id,
        "user_id": principal.user_id,
        "type": "writing",
        "subtype": body.task_type.module(),
        "task_type": body.task_type.as_str(),
        "overall_band": result.overall_band,
        "scores": {"overall_band": result.overall_band, "criteria_scores": result.criteria_scores},
        "feedback": result.detailed_feedback,
        "ai_model": deps.settings.model_id,
        "timestamp": timestamp,
        "duration_seconds": (started.elapsed().as_secs_f64() * 100.0).round() / 100.0,
        "word_count": word_count,
        "essay": body.essay,
    });
    if let Some(prompt) = prompt {
        document["prompt"] = json!(prompt);
    }
    if let Some(id) = body.question_id {
        document["question_id"] = json!(id);
    }
    store_assessment(deps, document.as_object().expect("an object")).await?;
    Ok(ApiResponse::json(201, &answer))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ComprehensionBody {
    question_id: String,
    answers: BTreeMap<String, String>,
}

/// `POST /api/assessments/reading` and `/listening`.
pub(crate) async fn comprehension(
    deps: &HttpDeps,
    request: &ApiRequest,
    skill: &'static str,
) -> ApiResult<ApiResponse> {
    let principal = authenticate(deps, request).await?;
    let body: ComprehensionBody = request.json(MAX_JSON_BODY)?;
    let mut checks = Checks::default();
    checks.text("question_id", &body.question_id, 1, 128);
    if body.answers.is_empty() {
        checks.fail("answers", "must answer at least one question");
    }
    if body.answers.len() > 100 {
        checks.fail("answers", "must have at most 100 answers");
    }
    for (number, answer) in &body.answers {
        if number.is_empty() || number.len() > 8 {
            checks.fail("answers", "question numbers are 1 to 8 characters");
        } else if answer.chars().count() > 200 {
            checks.fail(
                &format!("answers.{number}"),
                "must be at most 200 characters",
            );
        }
    }
    checks.finish()?;
    let question = questions::find(deps, &body.question_id, skill).await?;
    let key = questions::answer_key(&question);
    let module = get_s(&question, "test_type").unwrap_or("academic");
    let table = BandTable::for_test(skill, module).unwrap_or(BandTable::AcademicReading);
    let marked = mark(&key, &body.answers);
    let total = key.len() as u32;
    let raw = marked.correct.len() as u32;
    let scaled = out_of_40(raw, total);
    let band = table.band(scaled);
    let task = if skill == "reading" {
        "reading_feedback"
    } else {
        "listening_feedback"
    };
    let system = format!(
        "TASK: {task}\nYou are an IELTS {skill} tutor. Give the candidate two or three sentences of \
         encouraging, specific advice for their next practice test."
    );
    let user = format!(
        "SCORE: {raw}/{total}\nMODULE: {module}\nBAND: {band:.1}\nMISSED_QUESTIONS: {}",
        marked.incorrect.join(", ")
    );
    let reply = converse(deps, &system, &user, 300).await?;
    let assessment_id = store::new_id();
    let valid = !reply.text.trim().is_empty();
    log_model_call(
        deps,
        SafetyEvent {
            user_id: &principal.user_id,
            assessment_id: valid.then_some(assessment_id.as_str()),
            task,
            input_chars: system.len() + user.len(),
            reply: Some(&reply),
            flags: Vec::new(),
            output_valid: valid,
        },
    )
    .await;
    if !valid {
        return Err(ApiError::Upstream(
            "The feedback could not be written. Try again.".into(),
        ));
    }
    let timestamp = clock::now_rfc3339_millis();
    let answer = json!({
        "assessment_id": assessment_id,
        "type": skill,
        "test_type": module,
        "question_id": body.question_id,
        "raw_score": raw,
        "total_questions": total,
        "score_out_of_40": scaled,
        "overall_band": band,
        "correct_questions": marked.correct,
        "incorrect_questions": marked.incorrect,
        "feedback": reply.text.trim(),
        "model_used": deps.settings.model_id,
        "timestamp": timestamp,
    });
    let document = json!({
        "assessment_id": assessment_id,
        "user_id": principal.user_id,
        "type": skill,
        "subtype": module,
        "question_id": body.question_id,
        "overall_band": band,
        "scores": {"raw_score": raw, "total_questions": total, "score_out_of_40": scaled, "overall_band": band},
        "answers": body.answers,
        "correct_questions": marked.correct,
        "incorrect_questions": marked.incorrect,
        "feedback": reply.text.trim(),
        "ai_model": deps.settings.model_id,
        "timestamp": timestamp,
    });
    store_assessment(deps, document.as_object().expect("an object")).await?;
    Ok(ApiResponse::json(201, &answer))
}

/// An assessment in a history list.
fn summary(item: &Item) -> Value {
    let map = dynamo_json::from_item(item);
    json!({
        "assessment_id": map.get("assessment_id"),
        "type": map.get("type"),
        "subtype": map.get("subtype").or_else(|| map.get("assessment_type")).cloned().unwrap_or(Value::Null),
        "overall_band": map.get("overall_band").cloned().unwrap_or(Value::Null),
        "timestamp": map.get("timestamp"),
    })
}

/// `GET /api/assessments` (`type`, `limit`, `cursor`) and `GET /api/assessments/speaking`.
pub(crate) async fn history(
    deps: &HttpDeps,
    request: &ApiRequest,
    only: Option<&'static str>,
) -> ApiResult<ApiResponse> {
    let principal = authenticate(deps, request).await?;
    let limit = request.page_size(20, 100)?;
    let kind = match (only, request.query_value("type")) {
        (Some(kind), _) => Some(kind.to_owned()),
        (None, Some(kind)) if TYPES.contains(&kind) => Some(kind.to_owned()),
        (None, Some(_)) => {
            return Err(ApiError::field(
                "type",
                format!("must be one of {}", TYPES.join(", ")),
            ));
        }
        (None, None) => None,
    };
    let start = match request.query_value("cursor") {
        Some(cursor) => {
            let mut key = decode_cursor(cursor, &["assessment_id", "timestamp"])?;
            key.insert("user_id".into(), s(&principal.user_id));
            Some(key)
        }
        None => None,
    };
    // DynamoDB applies `Limit` before the type filter: read pages until the
    // page is full, and start the next one after the last item returned.
    let mut assessments = Vec::new();
    let mut next = None;
    let mut start = start;
    loop {
        let mut query = deps
            .db
            .query()
            .table_name(&deps.tables.assessments)
            .index_name("user_id-index")
            .key_condition_expression("user_id = :u")
            .expression_attribute_values(":u", s(&principal.user_id))
            .scan_index_forward(false)
            .limit(limit.max(25))
            .set_exclusive_start_key(start.take());
        if let Some(kind) = &kind {
            query = query
                .filter_expression("#t = :t")
                .expression_attribute_names("#t", "type")
                .expression_attribute_values(":t", s(kind));
        }
        let page = query.send().await.map_err(|e| {
            if e.as_service_error()
                .is_some_and(|s| s.meta().code() == Some("ValidationException"))
            {
                ApiError::field("cursor", "is not a cursor this API returned")
            } else {
                store_error("assessment history", e)
            }
        })?;
        let more = page.last_evaluated_key.clone().filter(|k| !k.is_empty());
        let items = page.items.unwrap_or_default();
        let count = items.len();
        for (index, item) in items.into_iter().enumerate() {
            assessments.push(summary(&item));
            if assessments.len() == limit as usize {
                if index + 1 < count || more.is_some() {
                    let key: Item = ["assessment_id", "user_id", "timestamp"]
                        .into_iter()
                        .filter_map(|k| item.get(k).map(|v| (k.to_owned(), v.clone())))
                        .collect();
                    next = Some(encode_cursor(&key));
                }
                break;
            }
        }
        match more {
            Some(key) if assessments.len() < limit as usize => start = Some(key),
            _ => break,
        }
    }
    Ok(ApiResponse::json(
        200,
        &json!({"assessments": assessments, "next_cursor": next}),
    ))
}

/// `GET /api/assessments/{id}`: 404 unless it is the caller's.
pub(crate) async fn get(deps: &HttpDeps, request: &ApiRequest, id: &str) -> ApiResult<ApiResponse> {
    let principal = authenticate(deps, request).await?;
    let not_found = || ApiError::NotFound("Assessment not found".into());
    if !store::plausible_id(id) {
        return Err(not_found());
    }
    let item = get_item(&deps.db, &deps.tables.assessments, "assessment_id", id)
        .await?
        .filter(|item| get_s(item, "user_id") == Some(principal.user_id.as_str()))
        .ok_or_else(not_found)?;
    Ok(ApiResponse::json(
        200,
        &json!({"assessment": dynamo_json::from_item(&item)}),
    ))
}
