//! Regional routing of Gemini Live sessions (seed 000's table): the candidate's
//! country picks the nearest Vertex AI region; `preferred_region` overrides it
//! when it names a known region and is refused otherwise.
//!
//! | user location | region |
//! |---|---|
//! | US / Canada (and US territories) | us-central1 |
//! | Europe (with the Caucasus) | europe-west1 |
//! | Asia (South, East, Southeast, Central) | asia-southeast1 |
//! | Middle East (with Egypt and Türkiye) | me-central1 |
//! | Australia and Oceania | australia-southeast1 |
//! | every other country (Africa, Latin America, the Caribbean, Antarctica, ...) | us-central1, Vertex's default Live region |

use std::fmt;

/// A Vertex AI region serving Gemini Live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Region {
    /// `us-central1`
    UsCentral1,
    /// `europe-west1`
    EuropeWest1,
    /// `asia-southeast1`
    AsiaSoutheast1,
    /// `me-central1`
    MeCentral1,
    /// `australia-southeast1`
    AustraliaSoutheast1,
}

impl Region {
    /// Every region.
    pub(crate) const ALL: [Region; 5] = [
        Region::UsCentral1,
        Region::EuropeWest1,
        Region::AsiaSoutheast1,
        Region::MeCentral1,
        Region::AustraliaSoutheast1,
    ];

    /// The region for countries the table does not name.
    pub(crate) const DEFAULT: Region = Region::UsCentral1;

    /// The Vertex location id.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Region::UsCentral1 => "us-central1",
            Region::EuropeWest1 => "europe-west1",
            Region::AsiaSoutheast1 => "asia-southeast1",
            Region::MeCentral1 => "me-central1",
            Region::AustraliaSoutheast1 => "australia-southeast1",
        }
    }

    /// Parses a location id.
    pub(crate) fn parse(text: &str) -> Option<Region> {
        Region::ALL.into_iter().find(|r| r.as_str() == text)
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Countries routed away from the default, by region (ISO 3166-1 alpha-2).
pub(crate) const ROUTED: &[(Region, &[&str])] = &[
    (
        Region::UsCentral1,
        &["US", "CA", "PR", "GU", "VI", "AS", "MP", "UM"],
    ),
    (
        Region::EuropeWest1,
        &[
            "AD", "AL", "AM", "AT", "AX", "AZ", "BA", "BE", "BG", "BY", "CH", "CY", "CZ", "DE",
            "DK", "EE", "ES", "FI", "FO", "FR", "GB", "GE", "GG", "GI", "GR", "HR", "HU", "IE",
            "IM", "IS", "IT", "JE", "LI", "LT", "LU", "LV", "MC", "MD", "ME", "MK", "MT", "NL",
            "NO", "PL", "PT", "RO", "RS", "RU", "SE", "SI", "SJ", "SK", "SM", "UA", "VA",
        ],
    ),
    (
        Region::AsiaSoutheast1,
        &[
            "AF", "BD", "BN", "BT", "CN", "HK", "ID", "IN", "IO", "JP", "KG", "KH", "KP", "KR",
            "KZ", "LA", "LK", "MM", "MN", "MO", "MV", "MY", "NP", "PH", "PK", "SG", "TH", "TJ",
            "TL", "TM", "TW", "UZ", "VN",
        ],
    ),
    (
        Region::MeCentral1,
        &[
            "AE", "BH", "EG", "IL", "IQ", "IR", "JO", "KW", "LB", "OM", "PS", "QA", "SA", "SY",
            "TR", "YE",
        ],
    ),
    (
        Region::AustraliaSoutheast1,
        &[
            "AU", "CC", "CK", "CX", "FJ", "FM", "HM", "KI", "MH", "NC", "NF", "NR", "NU", "NZ",
            "PF", "PG", "PN", "PW", "SB", "TK", "TO", "TV", "VU", "WF", "WS",
        ],
    ),
];

/// Why a routing request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum RoutingError {
    /// Not two ASCII letters.
    #[error("country_code must be an ISO 3166-1 alpha-2 code such as \"US\", got {0:?}")]
    BadCountry(String),
    /// `preferred_region` names no region that serves Gemini Live.
    #[error(
        "preferred_region {0:?} is not one of us-central1, europe-west1, asia-southeast1, me-central1, australia-southeast1"
    )]
    UnknownRegion(String),
}

/// The region for a country (case-insensitive), without override.
pub(crate) fn region_for_country(country: &str) -> Result<Region, RoutingError> {
    let code = country.trim().to_ascii_uppercase();
    if code.len() != 2 || !code.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(RoutingError::BadCountry(country.to_owned()));
    }
    Ok(ROUTED
        .iter()
        .find(|(_, countries)| countries.contains(&code.as_str()))
        .map_or(Region::DEFAULT, |(region, _)| *region))
}

/// The region a session uses: `preferred_region` when given (and known),
/// else the country's.
pub(crate) fn choose_region(
    country: &str,
    preferred: Option<&str>,
) -> Result<Region, RoutingError> {
    let by_country = region_for_country(country)?;
    match preferred.map(str::trim).filter(|p| !p.is_empty()) {
        None => Ok(by_country),
        Some(name) => {
            Region::parse(name).ok_or_else(|| RoutingError::UnknownRegion(name.to_owned()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// ISO 3166-1 alpha-2, all 249 officially assigned codes.
    const ISO_3166_1: &str = "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW";

    fn iso() -> Vec<&'static str> {
        ISO_3166_1.split(' ').collect()
    }

    #[test]
    fn the_table_names_only_real_codes_each_once() {
        let iso = iso();
        assert_eq!(iso.len(), 249);
        let mut seen = std::collections::BTreeSet::new();
        for (_, countries) in ROUTED {
            for code in *countries {
                assert!(iso.contains(code), "{code} is not an ISO 3166-1 code");
                assert!(seen.insert(*code), "{code} appears twice");
            }
        }
    }

    #[test]
    fn every_iso_code_maps_to_exactly_one_region() {
        for code in iso() {
            let regions: Vec<Region> = ROUTED
                .iter()
                .filter(|(_, countries)| countries.contains(&code))
                .map(|(region, _)| *region)
                .collect();
            assert!(regions.len() <= 1, "{code} in {regions:?}");
            let expected = regions.first().copied().unwrap_or(Region::DEFAULT);
            assert_eq!(region_for_country(code).unwrap(), expected, "{code}");
        }
    }

    #[test]
    fn seed_table() {
        for (country, region) in [
            ("US", "us-central1"),
            ("CA", "us-central1"),
            ("DE", "europe-west1"),
            ("gb", "europe-west1"),
            ("SG", "asia-southeast1"),
            ("JP", "asia-southeast1"),
            ("AE", "me-central1"),
            ("SA", "me-central1"),
            ("AU", "australia-southeast1"),
            ("NZ", "australia-southeast1"),
            ("BR", "us-central1"),
            ("NG", "us-central1"),
        ] {
            assert_eq!(
                region_for_country(country).unwrap().as_str(),
                region,
                "{country}"
            );
        }
    }

    #[test]
    fn overrides() {
        assert_eq!(
            choose_region("US", Some("europe-west1")).unwrap(),
            Region::EuropeWest1
        );
        assert_eq!(choose_region("US", Some("")).unwrap(), Region::UsCentral1);
        assert_eq!(
            choose_region("US", Some("mars-north1")),
            Err(RoutingError::UnknownRegion("mars-north1".into()))
        );
        assert!(matches!(
            choose_region("USA", None),
            Err(RoutingError::BadCountry(_))
        ));
        assert!(matches!(
            choose_region("1!", None),
            Err(RoutingError::BadCountry(_))
        ));
    }

    proptest! {
        #[test]
        fn any_two_letters_route_somewhere(a in b'A'..=b'Z', b in b'A'..=b'Z') {
            let code = String::from_utf8(vec![a, b]).unwrap();
            let region = region_for_country(&code).unwrap();
            prop_assert!(Region::ALL.contains(&region));
            prop_assert_eq!(region_for_country(&code.to_lowercase()).unwrap(), region);
        }

        #[test]
        fn anything_else_is_refused(text in "\\PC*") {
            let valid = text.trim().len() == 2 && text.trim().bytes().all(|b| b.is_ascii_alphabetic());
            prop_assert_eq!(region_for_country(&text).is_ok(), valid);
        }

        #[test]
        fn every_known_override_wins(country in "[A-Z]{2}", index in 0usize..5) {
            let region = Region::ALL[index];
            prop_assert_eq!(choose_region(&country, Some(region.as_str())).unwrap(), region);
        }
    }
}
