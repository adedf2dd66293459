//! Model lifecycles, shared by the catalogs of the Bedrock and Vertex mocks:
//! a model is Active, Deprecated (its retirement announced for no earlier
//! than a date, the final date not yet published), Legacy (served until a
//! set end-of-life date) or past its end of life, when the real service
//! refuses every call. A card names where its date comes from.

use chrono::NaiveDate;

/// Where a model is in its lifecycle on a given day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifecycle {
    /// Served, with no end announced.
    Active,
    /// Served; its retirement is announced for no earlier than a date, and
    /// the final date is still to be published.
    Deprecated {
        /// The earliest retirement date announced.
        not_before: NaiveDate,
    },
    /// Served until its end-of-life date.
    Legacy {
        /// The end-of-life date.
        end_of_life: NaiveDate,
    },
    /// No longer served.
    EndOfLife {
        /// Since when.
        since: NaiveDate,
    },
}

/// What the vendor has announced about a model's end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retirement {
    /// Nothing announced.
    None,
    /// Retired on this date (`YYYY-MM-DD`): served before it, refused from it.
    On(&'static str),
    /// To be retired no earlier than this date (`YYYY-MM-DD`), the final
    /// date to follow: served until then.
    NotBefore(&'static str),
}

/// One model of a mock's catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelCard<F: 'static> {
    /// The model id.
    pub id: &'static str,
    /// What it does (each mock has its own families).
    pub family: F,
    /// What is announced about its end.
    pub retirement: Retirement,
    /// Where that comes from.
    pub source: &'static str,
}

impl<F> ModelCard<F> {
    /// Its lifecycle on `day`.
    pub fn lifecycle_on(&self, day: NaiveDate) -> Lifecycle {
        match self.retirement {
            Retirement::None => Lifecycle::Active,
            Retirement::On(date) => match parse_day(date) {
                Some(end) if day >= end => Lifecycle::EndOfLife { since: end },
                Some(end) => Lifecycle::Legacy { end_of_life: end },
                None => Lifecycle::Active,
            },
            Retirement::NotBefore(date) => parse_day(date)
                .map_or(Lifecycle::Active, |not_before| Lifecycle::Deprecated {
                    not_before,
                }),
        }
    }
}

/// A `YYYY-MM-DD` date, as the catalogs write them.
pub fn parse_day(text: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()
}

/// Today, for the lifecycle.
pub fn today() -> NaiveDate {
    chrono::Utc::now().date_naive()
}

/// Checks a catalog: unique ids, valid dates, a source on every card.
pub fn catalog_problems<F>(catalog: &[ModelCard<F>]) -> Vec<String> {
    let mut problems = Vec::new();
    for (index, card) in catalog.iter().enumerate() {
        if catalog[..index].iter().any(|other| other.id == card.id) {
            problems.push(format!("{}: listed twice", card.id));
        }
        if let Retirement::On(date) | Retirement::NotBefore(date) = card.retirement
            && parse_day(date).is_none()
        {
            problems.push(format!("{}: {date} is not a YYYY-MM-DD date", card.id));
        }
        if card.source.is_empty() {
            problems.push(format!("{}: no source", card.id));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> NaiveDate {
        parse_day(text).unwrap()
    }

    fn card(retirement: Retirement) -> ModelCard<()> {
        ModelCard {
            id: "m",
            family: (),
            retirement,
            source: "s",
        }
    }

    #[test]
    fn each_announcement_gives_its_lifecycle() {
        assert_eq!(
            card(Retirement::None).lifecycle_on(day("2030-01-01")),
            Lifecycle::Active
        );
        let dated = card(Retirement::On("2026-09-14"));
        assert_eq!(
            dated.lifecycle_on(day("2026-09-13")),
            Lifecycle::Legacy {
                end_of_life: day("2026-09-14")
            }
        );
        assert_eq!(
            dated.lifecycle_on(day("2026-09-14")),
            Lifecycle::EndOfLife {
                since: day("2026-09-14")
            }
        );
        let pending = card(Retirement::NotBefore("2026-10-16"));
        for today in ["2026-01-01", "2027-06-01"] {
            assert_eq!(
                pending.lifecycle_on(day(today)),
                Lifecycle::Deprecated {
                    not_before: day("2026-10-16")
                },
                "served until a final date is published"
            );
        }
    }

    #[test]
    fn a_catalog_with_a_bad_date_a_twin_or_no_source_is_reported() {
        let catalog = [
            card(Retirement::On("14 September 2026")),
            ModelCard {
                source: "",
                ..card(Retirement::None)
            },
        ];
        let problems = catalog_problems(&catalog);
        assert_eq!(problems.len(), 3, "{problems:#?}");
        assert!(catalog_problems(&[card(Retirement::None)]).is_empty());
    }
}
