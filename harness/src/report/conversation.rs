//! The conversation of each session in `report.md` and `report.html`: the
//! model's turns in order (when, in which part, after which utterance, with
//! what latency, saying what), the candidate's utterances, and the
//! conversation checks, so a reader sees the conversation that was judged.

use std::fmt::Write as _;

use super::markup::{shorten, text};
use super::model::{ConversationReport, RunReport, SessionReport};

/// Longest text shown per turn or utterance.
const SAYS: usize = 160;

fn seconds(ms: u64) -> String {
    format!("{:.1}", ms as f64 / 1000.0)
}

fn conversations(
    report: &RunReport,
) -> impl Iterator<Item = (String, &SessionReport, &ConversationReport)> {
    report.scenarios.iter().flat_map(|scenario| {
        scenario.sessions.iter().filter_map(move |session| {
            let conversation = session.conversation.as_ref()?;
            Some((
                format!("{} session {}", scenario.name, session.index),
                session,
                conversation,
            ))
        })
    })
}

/// The Markdown section (empty when no session tracked turns).
pub(crate) fn markdown(report: &RunReport) -> String {
    let mut out = String::new();
    for (title, _, conversation) in conversations(report) {
        let _ = writeln!(out, "## Conversation: {title}\n");
        let _ = writeln!(
            out,
            "{} model turns, {} candidate utterances. Times are seconds from the run's start (real time); latency is from the end of the utterance to the turn's first audio.\n",
            conversation.turns.len(),
            conversation.utterances.len()
        );
        let _ = writeln!(
            out,
            "| turn | at | part | after | latency ms | audio s | ended | says |"
        );
        let _ = writeln!(out, "|---:|---:|---|---:|---:|---:|---|---|");
        for turn in &conversation.turns {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} | {} |",
                turn.index,
                seconds(turn.start_ms),
                turn.part.as_deref().unwrap_or("–"),
                turn.follows_utterance
                    .map_or("–".to_owned(), |u| format!("u{u}")),
                turn.latency_ms.map_or("–".to_owned(), |l| l.to_string()),
                seconds(turn.audio_ms),
                turn.ended_by,
                shorten(&turn.text, SAYS).replace('|', "\\|"),
            );
        }
        let _ = writeln!(out);
        let _ = writeln!(out, "| utterance | from | to | clips | says |");
        let _ = writeln!(out, "|---:|---:|---:|---|---|");
        for utterance in &conversation.utterances {
            let _ = writeln!(
                out,
                "| u{} | {} | {} | {} | {} |",
                utterance.index,
                seconds(utterance.start_ms),
                utterance.end_ms.map_or("–".to_owned(), seconds),
                utterance.clips.join(", "),
                shorten(&utterance.text, SAYS).replace('|', "\\|"),
            );
        }
        let _ = writeln!(out);
        for check in &conversation.checks {
            let verdict = if check.passed { "PASS" } else { "FAIL" };
            let _ = writeln!(out, "- {} {}: **{verdict}**", check.id, check.name);
            for problem in &check.problems {
                let _ = writeln!(out, "  - {problem}");
            }
        }
        let _ = writeln!(out);
    }
    out
}

/// The HTML section (nothing when no session tracked turns).
pub(crate) fn html(out: &mut String, report: &RunReport) {
    let mut any = false;
    for (title, session, conversation) in conversations(report) {
        if !any {
            out.push_str(r#"<section id="conversation"><h2>Conversation</h2><p class="muted">Each model turn in order, the utterance it followed, its latency (end of the utterance to the turn's first audio) and what it said; then the conversation checks.</p>"#);
            any = true;
        }
        let _ = write!(
            out,
            "<h3>{}</h3><table><thead><tr><th>turn</th><th>at s</th><th>part</th><th>after</th><th>latency ms</th><th>audio s</th><th>ended</th><th>says</th></tr></thead><tbody>",
            text(&title)
        );
        for turn in &conversation.turns {
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                turn.index,
                seconds(turn.start_ms),
                text(turn.part.as_deref().unwrap_or("–")),
                turn.follows_utterance
                    .map_or("–".to_owned(), |u| format!("u{u}")),
                turn.latency_ms.map_or("–".to_owned(), |l| l.to_string()),
                seconds(turn.audio_ms),
                text(&turn.ended_by),
                text(&shorten(&turn.text, SAYS)),
            );
        }
        out.push_str("</tbody></table><table><thead><tr><th>utterance</th><th>from s</th><th>to s</th><th>says</th></tr></thead><tbody>");
        for utterance in &conversation.utterances {
            let _ = write!(
                out,
                "<tr><td>u{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                utterance.index,
                seconds(utterance.start_ms),
                utterance.end_ms.map_or("–".to_owned(), seconds),
                text(&shorten(&utterance.text, SAYS)),
            );
        }
        out.push_str("</tbody></table><ul class=\"checks\">");
        for check in &conversation.checks {
            let verdict = if check.passed { "PASS" } else { "FAIL" };
            let _ = write!(
                out,
                "<li>{} {}: <strong>{verdict}</strong>",
                text(&check.id),
                text(&check.name)
            );
            if !check.problems.is_empty() {
                out.push_str("<ul>");
                for problem in &check.problems {
                    let _ = write!(out, "<li>{}</li>", text(problem));
                }
                out.push_str("</ul>");
            }
            out.push_str("</li>");
        }
        let _ = write!(
            out,
            "</ul><p class=\"muted\">Session {} {}.</p>",
            session.index,
            if session.passed { "passed" } else { "failed" }
        );
    }
    if any {
        out.push_str("</section>\n");
    }
}

#[cfg(test)]
mod tests {
    use crate::report::sample;

    #[test]
    fn turns_and_checks_are_shown_and_escaped() {
        let report = sample::report();
        let md = super::markdown(&report);
        assert!(md.contains("## Conversation:"), "{md}");
        assert!(md.contains("Thank you. Where are you from?"));
        assert!(md.contains("conversation.3 no repeated turn: **FAIL**"));
        let mut html = String::new();
        super::html(&mut html, &report);
        assert!(html.contains("<section id=\"conversation\">"));
        assert!(html.contains("&lt;full name&gt;"), "{html}");
        assert!(!html.contains("<x>"));
    }
}
