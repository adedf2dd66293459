//! Reading and listening scores: answers checked against a question set's
//! answer key, and the raw score out of 40 converted to a band with the
//! official conversion tables (ielts.org, "IELTS scoring in detail"):
//! Listening (both modules), Academic Reading and General Training Reading.
//! The published tables start at band 2.5 or 4; below that the usual
//! extension is used (down to band 0 for no correct answer). A set with
//! fewer than 40 questions is scaled to 40 before the table is read.

use std::collections::BTreeMap;

/// Which conversion table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BandTable {
    /// Listening, Academic and General Training alike.
    Listening,
    AcademicReading,
    GeneralTrainingReading,
}

/// (lowest raw score, band), highest band first.
const LISTENING: &[(u32, f64)] = &[
    (39, 9.0),
    (37, 8.5),
    (35, 8.0),
    (32, 7.5),
    (30, 7.0),
    (26, 6.5),
    (23, 6.0),
    (18, 5.5),
    (16, 5.0),
    (13, 4.5),
    (10, 4.0),
    (8, 3.5),
    (6, 3.0),
    (4, 2.5),
    (3, 2.0),
    (2, 1.5),
    (1, 1.0),
    (0, 0.0),
];

const ACADEMIC_READING: &[(u32, f64)] = &[
    (39, 9.0),
    (37, 8.5),
    (35, 8.0),
    (33, 7.5),
    (30, 7.0),
    (27, 6.5),
    (23, 6.0),
    (19, 5.5),
    (15, 5.0),
    (13, 4.5),
    (10, 4.0),
    (8, 3.5),
    (6, 3.0),
    (4, 2.5),
    (3, 2.0),
    (2, 1.5),
    (1, 1.0),
    (0, 0.0),
];

const GENERAL_TRAINING_READING: &[(u32, f64)] = &[
    (40, 9.0),
    (39, 8.5),
    (37, 8.0),
    (36, 7.5),
    (34, 7.0),
    (32, 6.5),
    (30, 6.0),
    (27, 5.5),
    (23, 5.0),
    (19, 4.5),
    (15, 4.0),
    (12, 3.5),
    (9, 3.0),
    (6, 2.5),
    (4, 2.0),
    (2, 1.5),
    (1, 1.0),
    (0, 0.0),
];

impl BandTable {
    /// The table for a skill (`reading` / `listening`) and module
    /// (`academic` / `general_training`).
    pub(crate) fn for_test(skill: &str, module: &str) -> Option<Self> {
        match (skill, module) {
            ("listening", "academic" | "general_training") => Some(Self::Listening),
            ("reading", "academic") => Some(Self::AcademicReading),
            ("reading", "general_training") => Some(Self::GeneralTrainingReading),
            _ => None,
        }
    }

    fn rows(self) -> &'static [(u32, f64)] {
        match self {
            Self::Listening => LISTENING,
            Self::AcademicReading => ACADEMIC_READING,
            Self::GeneralTrainingReading => GENERAL_TRAINING_READING,
        }
    }

    /// The band for a raw score out of 40 (scores above 40 count as 40).
    pub(crate) fn band(self, raw_out_of_40: u32) -> f64 {
        let raw = raw_out_of_40.min(40);
        self.rows()
            .iter()
            .find(|(lowest, _)| raw >= *lowest)
            .map_or(0.0, |(_, band)| *band)
    }
}

/// A score out of `total` as a score out of 40 (rounded half up).
pub(crate) fn out_of_40(correct: u32, total: u32) -> u32 {
    if total == 0 {
        return 0;
    }
    let correct = correct.min(total);
    (correct * 80 + total) / (total * 2)
}

/// An answer as compared: trimmed, lower case, inner spaces collapsed.
pub(crate) fn normalise_answer(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// Which questions were answered correctly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Marked {
    /// Question numbers answered correctly.
    pub correct: Vec<String>,
    /// Question numbers answered wrongly or not at all.
    pub incorrect: Vec<String>,
}

/// Marks `answers` (question number to answer) against `key` (question
/// number to the accepted answers).
pub(crate) fn mark(
    key: &BTreeMap<String, Vec<String>>,
    answers: &BTreeMap<String, String>,
) -> Marked {
    let mut marked = Marked {
        correct: Vec::new(),
        incorrect: Vec::new(),
    };
    for (number, accepted) in key {
        let given = answers.get(number).map(|a| normalise_answer(a));
        let right = given.is_some_and(|given| {
            !given.is_empty() && accepted.iter().any(|a| normalise_answer(a) == given)
        });
        if right {
            marked.correct.push(number.clone());
        } else {
            marked.incorrect.push(number.clone());
        }
    }
    marked
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const TABLES: [BandTable; 3] = [
        BandTable::Listening,
        BandTable::AcademicReading,
        BandTable::GeneralTrainingReading,
    ];

    #[test]
    fn published_rows() {
        assert_eq!(BandTable::Listening.band(30), 7.0);
        assert_eq!(BandTable::Listening.band(23), 6.0);
        assert_eq!(BandTable::Listening.band(16), 5.0);
        assert_eq!(BandTable::AcademicReading.band(30), 7.0);
        assert_eq!(BandTable::AcademicReading.band(33), 7.5);
        assert_eq!(BandTable::AcademicReading.band(15), 5.0);
        assert_eq!(BandTable::GeneralTrainingReading.band(34), 7.0);
        assert_eq!(BandTable::GeneralTrainingReading.band(30), 6.0);
        assert_eq!(BandTable::GeneralTrainingReading.band(23), 5.0);
        assert_eq!(BandTable::GeneralTrainingReading.band(39), 8.5);
        assert_eq!(
            BandTable::for_test("reading", "academic"),
            Some(BandTable::AcademicReading)
        );
        assert_eq!(BandTable::for_test("writing", "academic"), None);
    }

    #[test]
    fn marking_is_case_and_space_insensitive() {
        let key: BTreeMap<String, Vec<String>> = [
            ("1".to_owned(), vec!["B".to_owned()]),
            (
                "2".to_owned(),
                vec!["New  York".to_owned(), "NYC".to_owned()],
            ),
            ("3".to_owned(), vec!["true".to_owned()]),
        ]
        .into();
        let answers: BTreeMap<String, String> = [
            ("1".to_owned(), " b ".to_owned()),
            ("2".to_owned(), "new york".to_owned()),
            ("4".to_owned(), "extra".to_owned()),
        ]
        .into();
        let marked = mark(&key, &answers);
        assert_eq!(marked.correct, ["1", "2"]);
        assert_eq!(marked.incorrect, ["3"]);
        assert_eq!(out_of_40(10, 20), 20);
        assert_eq!(out_of_40(1, 3), 13);
        assert_eq!(out_of_40(5, 0), 0);
    }

    proptest! {
        #[test]
        fn tables_are_monotone_half_bands_from_0_to_9(raw in 0u32..40) {
            for table in TABLES {
                let (low, high) = (table.band(raw), table.band(raw + 1));
                prop_assert!(high >= low);
                prop_assert!((0.0..=9.0).contains(&low));
                prop_assert_eq!((low * 2.0).fract(), 0.0);
                prop_assert_eq!(table.band(0), 0.0);
                prop_assert_eq!(table.band(40), 9.0);
            }
        }

        #[test]
        fn scaling_stays_within_0_to_40(correct in 0u32..200, total in 1u32..200) {
            let scaled = out_of_40(correct, total);
            prop_assert!(scaled <= 40);
            prop_assert_eq!(out_of_40(total, total), 40);
        }
    }
}
