//! The patient's context in DynamoDB (seed 001's "patient data"): the
//! patient (`PATIENTS_TABLE`, key `patientId`), their family
//! (`FAMILY_TABLE`, keys `patientId` + `memberId`) and their daily routines
//! (`ROUTINES_TABLE`, keys `patientId` + `routineId`), loaded together and
//! written into Buddy's system prompt as facts, one `- ` line each, so the
//! model answers "Who is Sarah?" from them. backend/seed-data/patients.json
//! holds the seed data (`harness seed-data` loads it, as seed 001's
//! `seed_data.py` does).

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::types::AttributeValue;
use serde::Deserialize;

use crate::dynamo_json;
use crate::dynamo_query::query_all;

/// A patient item.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Patient {
    /// `pt-001`.
    pub patient_id: String,
    /// What Buddy calls them (`John`): the `patientName` of `initialized`.
    pub name: String,
    /// Full name.
    #[serde(default)]
    pub full_name: Option<String>,
    /// Age in years.
    #[serde(default)]
    pub age: Option<u32>,
    /// Conditions Buddy should keep in mind (`early-stage dementia`).
    #[serde(default)]
    pub conditions: Vec<String>,
    /// Facts about the patient, one sentence each, in the second person.
    #[serde(default)]
    pub facts: Vec<String>,
}

/// A family member item.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FamilyMember {
    /// `Sarah`.
    pub name: String,
    /// `daughter`.
    pub relationship: String,
    /// More about them, one sentence each, naming them (`Sarah visits you every Sunday.`).
    #[serde(default)]
    pub notes: Vec<String>,
}

/// A routine item.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Routine {
    /// `morning`.
    pub name: String,
    /// When it starts (`8:00 am`).
    #[serde(default)]
    pub time: Option<String>,
    /// The steps in order.
    pub steps: Vec<String>,
}

/// Everything Buddy knows about a patient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatientContext {
    /// The patient.
    pub patient: Patient,
    /// Their family.
    pub family: Vec<FamilyMember>,
    /// Their routines.
    pub routines: Vec<Routine>,
}

/// Why the context could not be read.
#[derive(Debug, thiserror::Error)]
pub enum PatientError {
    /// DynamoDB failed.
    #[error("{table} {operation} failed: {message}")]
    Store {
        /// Table.
        table: String,
        /// Operation.
        operation: &'static str,
        /// The SDK's error with context.
        message: String,
    },
    /// An item does not have the expected shape.
    #[error("{table} item is malformed: {message}")]
    Malformed {
        /// Table.
        table: String,
        /// What is wrong.
        message: String,
    },
}

/// The three tables.
#[derive(Debug, Clone)]
pub struct PatientStore {
    client: Client,
    patients_table: String,
    family_table: String,
    routines_table: String,
}

fn parse<T: serde::de::DeserializeOwned>(
    table: &str,
    item: &HashMap<String, AttributeValue>,
) -> Result<T, PatientError> {
    serde_json::from_value(serde_json::Value::Object(dynamo_json::from_item(item))).map_err(|e| {
        PatientError::Malformed {
            table: table.to_owned(),
            message: e.to_string(),
        }
    })
}

impl PatientStore {
    /// The store over `PATIENTS_TABLE`, `FAMILY_TABLE` and `ROUTINES_TABLE`.
    pub fn new(
        client: Client,
        patients_table: impl Into<String>,
        family_table: impl Into<String>,
        routines_table: impl Into<String>,
    ) -> Self {
        Self {
            client,
            patients_table: patients_table.into(),
            family_table: family_table.into(),
            routines_table: routines_table.into(),
        }
    }

    /// The patient's context, or `None` for an unknown patient.
    pub async fn load(&self, patient_id: &str) -> Result<Option<PatientContext>, PatientError> {
        let store_error = |table: &str, operation, e: String| PatientError::Store {
            table: table.to_owned(),
            operation,
            message: e,
        };
        let answer = self
            .client
            .get_item()
            .table_name(&self.patients_table)
            .key("patientId", AttributeValue::S(patient_id.to_owned()))
            .send()
            .await
            .map_err(|e| {
                store_error(
                    &self.patients_table,
                    "GetItem",
                    DisplayErrorContext(e).to_string(),
                )
            })?;
        let Some(item) = answer.item else {
            return Ok(None);
        };
        let patient: Patient = parse(&self.patients_table, &item)?;
        let family = self.query(&self.family_table, patient_id).await?;
        let routines = self.query(&self.routines_table, patient_id).await?;
        Ok(Some(PatientContext {
            patient,
            family,
            routines,
        }))
    }

    async fn query<T: serde::de::DeserializeOwned>(
        &self,
        table: &str,
        patient_id: &str,
    ) -> Result<Vec<T>, PatientError> {
        let query = self
            .client
            .query()
            .table_name(table)
            .key_condition_expression("patientId = :p")
            .expression_attribute_values(":p", AttributeValue::S(patient_id.to_owned()));
        let items = query_all(query).await.map_err(|e| PatientError::Store {
            table: table.to_owned(),
            operation: "Query",
            message: DisplayErrorContext(e).to_string(),
        })?;
        items.iter().map(|item| parse(table, item)).collect()
    }
}

/// The patient's context as facts, one `- ` line each: family first (a
/// relationship before the notes about that person), then routines, then
/// the rest.
pub fn facts(context: &PatientContext) -> Vec<String> {
    let patient = &context.patient;
    let mut facts = Vec::new();
    for member in &context.family {
        facts.push(format!("{} is your {}.", member.name, member.relationship));
    }
    for member in &context.family {
        facts.extend(member.notes.iter().cloned());
    }
    for routine in &context.routines {
        let when = routine
            .time
            .as_deref()
            .map(|time| format!(" (at {time})"))
            .unwrap_or_default();
        facts.push(format!(
            "Your {} routine{when}: {}.",
            routine.name,
            routine.steps.join(", then ").trim_end_matches('.')
        ));
    }
    let full_name = patient.full_name.as_deref().unwrap_or(&patient.name);
    facts.push(format!("Your name is {full_name}."));
    facts.extend(patient.facts.iter().cloned());
    facts
        .into_iter()
        .map(|fact| fact.replace(['\n', '\r'], " ").trim().to_owned())
        .filter(|fact| !fact.is_empty())
        .collect()
}

/// Buddy's system prompt for a patient: who Buddy is, how to speak, and
/// the patient's facts.
pub fn system_prompt(context: &PatientContext) -> String {
    let patient = &context.patient;
    let mut prompt = format!(
        "You are Buddy, a warm and patient voice companion for {name}.",
        name = patient.name
    );
    if let Some(age) = patient.age {
        prompt.push_str(&format!(" {} is {age} years old.", patient.name));
    }
    if !patient.conditions.is_empty() {
        prompt.push_str(&format!(
            " Keep in mind: {}.",
            patient.conditions.join(", ")
        ));
    }
    prompt.push_str(&format!(
        " Speak slowly and simply, in short sentences, and address {name} as \"you\". \
         Answer questions about family, daily routines and health only from the facts below; \
         if you do not know, say so kindly and suggest asking family. If {name} sounds hurt, \
         frightened or in danger, stay calm, tell them help is on the way and to press their \
         emergency button.\nPatient facts:\n",
        name = patient.name
    ));
    for fact in facts(context) {
        prompt.push_str("- ");
        prompt.push_str(&fact);
        prompt.push('\n');
    }
    prompt
}

#[cfg(test)]
mod tests {
    use super::*;

    fn john() -> PatientContext {
        PatientContext {
            patient: Patient {
                patient_id: "pt-001".into(),
                name: "John".into(),
                full_name: Some("John Miller".into()),
                age: Some(82),
                conditions: vec!["early-stage dementia".into()],
                facts: vec!["Your doctor is Dr. Patel.".into()],
            },
            family: vec![FamilyMember {
                name: "Sarah".into(),
                relationship: "daughter".into(),
                notes: vec!["Sarah visits you every Sunday afternoon.".into()],
            }],
            routines: vec![Routine {
                name: "morning".into(),
                time: Some("8:00 am".into()),
                steps: vec![
                    "take your blood pressure pill with water".into(),
                    "eat breakfast.".into(),
                ],
            }],
        }
    }

    #[test]
    fn facts_put_relationships_before_notes() {
        assert_eq!(
            facts(&john()),
            [
                "Sarah is your daughter.",
                "Sarah visits you every Sunday afternoon.",
                "Your morning routine (at 8:00 am): take your blood pressure pill with water, then eat breakfast.",
                "Your name is John Miller.",
                "Your doctor is Dr. Patel."
            ]
        );
    }

    #[test]
    fn the_prompt_carries_every_fact_as_a_dash_line() {
        let prompt = system_prompt(&john());
        assert!(prompt.starts_with("You are Buddy"));
        assert!(prompt.contains("\n- Sarah is your daughter.\n"));
        assert!(prompt.contains("82 years old"));
        assert!(
            !prompt.to_uppercase().contains("IELTS"),
            "Buddy is not an examiner"
        );
    }

    #[test]
    fn items_parse_from_dynamodb() {
        let mut item = HashMap::new();
        item.insert("patientId".to_owned(), AttributeValue::S("pt-002".into()));
        item.insert("name".to_owned(), AttributeValue::S("Mary".into()));
        item.insert("age".to_owned(), AttributeValue::N("79".into()));
        let patient: Patient = parse("t", &item).unwrap();
        assert_eq!(patient.name, "Mary");
        assert_eq!(patient.age, Some(79));
        assert!(patient.conditions.is_empty());
        item.remove("name");
        assert!(matches!(
            parse::<Patient>("t", &item),
            Err(PatientError::Malformed { .. })
        ));
    }
}
