//! Unit tests of the tracker and the conversation checks on synthetic
//! conversations: each check holds on a good conversation and fails on the
//! misbehaviour it names.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use super::checks::{Judged, judge};
use super::*;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A speaking-API conversation driven on a fake clock.
struct Script {
    tracker: Tracker,
    t0: Instant,
}

impl Script {
    fn new(api: &str) -> Self {
        let t0 = Instant::now();
        let profile = Arc::new(TurnProfile::for_api(api).unwrap());
        Self {
            tracker: Tracker::new(profile, 1.0, t0),
            t0,
        }
    }

    fn at(&self, n: u64) -> Instant {
        self.t0 + ms(n)
    }

    /// Maya says `text` from `from` to `to` (transcript, 1 s of audio, turn end).
    fn turn(&mut self, from: u64, to: u64, text: &str) -> &mut Self {
        let audio = "A".repeat(64_000); // 48,000 bytes: 1 s at 24 kHz
        self.tracker.received(
            self.at(from),
            &json!({"type": "maya_transcript", "text": text}),
        );
        self.tracker.received(
            self.at(from + 1),
            &json!({"type": "maya_audio", "audio": audio, "format": {"sample_rate": 24000}}),
        );
        self.tracker.received(
            self.at(to),
            &json!({"type": "maya_turn_complete", "interrupted": false}),
        );
        self
    }

    /// The candidate speaks from `from` to `to`.
    fn say(&mut self, from: u64, to: u64, text: &str) -> &mut Self {
        self.tracker.begin_speech(self.at(from), None, false, true);
        self.tracker
            .add_clip(self.at(to), Duration::ZERO, "clip.wav", Some(text));
        self.tracker.end_speech();
        self
    }

    fn judge(&self, checkpoints: &[Checkpoint], log: Option<&ModelLog>) -> Vec<CheckOutcome> {
        judge(Judged {
            tracker: &self.tracker,
            replies_per_utterance: 1,
            checkpoints,
            model_log: log,
            ended: self.at(100_000),
        })
    }

    fn failed(&self) -> Vec<String> {
        self.judge(&[], None)
            .into_iter()
            .filter(|o| !o.passed)
            .map(|o| o.id)
            .collect()
    }
}

/// Greeting, one answer, a reply, a second answer, the closing.
fn good() -> Script {
    let mut s = Script::new("SpeakingWebSocketApi");
    s.turn(100, 2_000, "Good morning. What is your name?")
        .say(5_000, 7_000, "My name is Alex.")
        .turn(8_000, 9_000, "Where are you from?")
        .say(12_000, 15_000, "From Porto.")
        .turn(
            16_000,
            17_000,
            "Thank you. That is the end of the speaking test.",
        );
    s
}

#[test]
fn turns_are_grouped_timed_and_played_out() {
    let mut s = good();
    let turns = &s.tracker.turns;
    assert_eq!(turns.len(), 3);
    assert_eq!(turns[1].text, "Where are you from?");
    assert_eq!(turns[1].audio, Duration::from_secs(1));
    assert_eq!(turns[1].playout_end, s.at(8_001) + Duration::from_secs(1));
    let since = s.tracker.last_prompt_end();
    assert_eq!(since, s.at(15_000));
    assert!(
        !s.tracker.model_done_since(since, s.at(16_500)),
        "still talking"
    );
    assert!(s.tracker.model_done_since(since, s.at(17_100)));
}

#[test]
fn without_a_turn_end_signal_a_turn_lasts_while_its_audio_plays() {
    // Nova Sonic stream: turns end by a quiet gap (1.5 s). Two seconds of
    // audio, then a piece 3 s later: heard without a pause, one turn.
    let mut s = Script::new("NovaSonicStreamWebSocketApi");
    let piece = |s: &mut Script, at: u64, seconds: usize| {
        let audio = "A".repeat(64_000 * seconds);
        s.tracker.received(
            s.at(at),
            &json!({"type": "maya_audio", "audio": audio, "format": {"sample_rate": 24000}}),
        );
    };
    piece(&mut s, 0, 2);
    piece(&mut s, 3_000, 1);
    assert_eq!(s.tracker.turns.len(), 1, "{:#?}", s.tracker.turns);
    // Quiet for the gap after the audio ran out (4 s + 1.5 s): a new turn.
    piece(&mut s, 5_600, 1);
    assert_eq!(s.tracker.turns.len(), 2);
    assert_eq!(s.tracker.turns[0].audio, Duration::from_secs(3));
    // The client speaks while that audio still plays: the reply is a turn
    // of its own.
    s.say(6_000, 6_500, "Porto.");
    piece(&mut s, 6_700, 1);
    assert_eq!(s.tracker.turns.len(), 3);
    assert_eq!(s.tracker.turns[1].end, Some(s.at(5_600)));
}

#[test]
fn turn_latency_is_from_the_end_of_the_utterance_to_the_first_audio() {
    let mut s = Script::new("SpeakingWebSocketApi");
    s.say(0, 1_000, "Hello.");
    s.tracker.received(
        s.at(1_200),
        &json!({"type": "maya_transcript", "text": "Hi."}),
    );
    let latency = s.tracker.received(
        s.at(1_250),
        &json!({"type": "maya_audio", "audio": "AAAA", "format": {"sample_rate": 24000}}),
    );
    assert_eq!(latency, Some(ms(250)));
}

#[test]
fn a_quiet_gap_ends_a_turn_where_the_api_has_no_turn_end_message() {
    let mut s = Script::new("BuddyWebSocketApi");
    s.tracker.received(
        s.at(0),
        &json!({"type": "textOutput", "text": "Hello John."}),
    );
    s.tracker.received(
        s.at(5_000),
        &json!({"type": "textOutput", "text": "Anything else?"}),
    );
    assert_eq!(
        s.tracker.turns.len(),
        2,
        "1.5 s of quiet ends the first turn"
    );
    assert_eq!(s.tracker.turns[0].end, Some(s.at(0)));
}

#[test]
fn a_good_conversation_passes_every_check() {
    let s = good();
    let outcomes = s.judge(&[], None);
    assert_eq!(outcomes.len(), 7);
    assert!(outcomes.iter().all(|o| o.passed), "{outcomes:#?}");
}

#[test]
fn a_turn_during_speech_breaks_conversation_1_and_2() {
    let mut s = good();
    // The examiner answers half an answer while the candidate still speaks.
    s.tracker.turns.clear();
    s.turn(100, 2_000, "Good morning. What is your name?")
        .turn(6_000, 6_500, "Where are you from?")
        .turn(8_000, 9_000, "Do you work or study?");
    s.tracker.utterances.truncate(1);
    assert_eq!(s.failed(), ["conversation.1", "conversation.2"]);
}

#[test]
fn a_turn_in_the_quiet_that_ends_a_clip_is_not_barge_in() {
    let build = |turn_at: u64| {
        let mut s = Script::new("SpeakingWebSocketApi");
        s.turn(100, 2_000, "Good morning. What is your name?");
        // Speech from 3 s; the clip's last 400 ms (6.6 to 7 s) are quiet.
        s.tracker.begin_speech(s.at(3_000), None, false, true);
        s.tracker
            .add_clip(s.at(7_000), ms(400), "clip.wav", Some("My name is Alex."));
        s.tracker.end_speech();
        s.turn(turn_at, turn_at + 1_500, "Thank you. Where are you from?");
        s.failed()
    };
    // The model answered in the quiet: nobody was talking.
    assert!(!build(6_800).contains(&"conversation.1".to_owned()));
    // It started while the candidate's voice still sounded.
    assert!(build(6_500).contains(&"conversation.1".to_owned()));
}

#[test]
fn two_replies_break_conversation_2() {
    let mut s = Script::new("SpeakingWebSocketApi");
    s.turn(100, 2_000, "Good morning. What is your name?")
        .say(5_000, 7_000, "My name is Alex.")
        .turn(8_000, 9_000, "Where are you from?")
        .turn(9_500, 11_000, "And what do you do?");
    assert_eq!(s.failed(), ["conversation.2"]);
}

#[test]
fn a_repeated_turn_breaks_conversation_3() {
    let mut s = good();
    s.tracker.turns[1].text = "Good morning. What is your name?".to_owned();
    assert_eq!(s.failed(), ["conversation.3"]);
}

#[test]
fn checkpoints_break_conversation_4_on_text_or_part() {
    let s = good();
    let broken = Checkpoint {
        step: "steps[4]".to_owned(),
        turn: Some(1),
        part: None,
        problem: Some("turn 1 said \"x\", expected it to match \"y\"".to_owned()),
    };
    let outcome = &s.judge(&[broken], None)[3];
    assert!(!outcome.passed && outcome.problems[0].starts_with("steps[4]"));
    let log = ModelLog {
        turns: ["Good morning. What is your name?", "Where are you from?"]
            .iter()
            .map(|t| ModelTurn {
                text: (*t).to_owned(),
                part: Some("part1".to_owned()),
            })
            .collect(),
        overruns: 0,
    };
    let in_part = |part: &str| Checkpoint {
        step: "steps[6]".to_owned(),
        turn: Some(1),
        part: Some(part.to_owned()),
        problem: None,
    };
    assert!(s.judge(&[in_part("part1")], Some(&log))[3].passed);
    let wrong = &s.judge(&[in_part("part2")], Some(&log))[3];
    assert!(!wrong.passed);
    assert!(
        wrong.problems[0].contains("is in part1, expected part2"),
        "{wrong:?}"
    );
}

#[test]
fn an_early_or_repeated_closing_breaks_conversation_5() {
    let mut s = good();
    s.tracker.turns[1].text = "That is the end of the speaking test. Goodbye.".to_owned();
    let failed = s.failed();
    assert!(failed.contains(&"conversation.5".to_owned()), "{failed:?}");
}

#[test]
fn an_assessment_before_end_speaking_breaks_conversation_6() {
    let mut s = good();
    s.tracker.received(
        s.at(18_000),
        &json!({"type": "assessment_complete", "assessment": {}}),
    );
    assert_eq!(s.failed(), ["conversation.6"]);
    let mut fine = good();
    fine.tracker
        .sent(fine.at(17_500), &json!({"action": "end_speaking"}));
    fine.tracker.received(
        fine.at(18_000),
        &json!({"type": "assessment_complete", "assessment": {}}),
    );
    assert!(fine.failed().is_empty());
}

#[test]
fn script_overruns_in_the_model_log_break_conversation_7() {
    let s = good();
    let log = ModelLog {
        turns: Vec::new(),
        overruns: 2,
    };
    let outcome = &s.judge(&[], Some(&log))[6];
    assert!(!outcome.passed);
    assert!(outcome.problems[0].contains("2 turns past the end of its script"));
}

#[test]
fn typed_prompts_are_utterances() {
    let mut s = Script::new("BuddyWebSocketApi");
    s.tracker.sent(
        s.at(0),
        &json!({"action": "textInput", "text": "Who is Sarah?"}),
    );
    assert_eq!(s.tracker.utterances.len(), 1);
    assert_eq!(s.tracker.utterances[0].text, "Who is Sarah?");
}

#[test]
fn a_turn_already_on_its_way_is_not_barge_in_unless_the_candidate_waited() {
    let build = |waited: bool| {
        let mut s = Script::new("SpeakingWebSocketApi");
        s.turn(100, 2_000, "Good morning. What is your name?");
        s.tracker.begin_speech(s.at(5_000), None, false, waited);
        s.tracker.add_clip(
            s.at(7_000),
            Duration::ZERO,
            "clip.wav",
            Some("My name is Alex."),
        );
        s.tracker.end_speech();
        // A turn 100 ms into the speech, then nothing more.
        s.turn(5_100, 6_000, "Where are you from?");
        s
    };
    assert!(!build(false).failed().contains(&"conversation.1".to_owned()));
    assert!(build(true).failed().contains(&"conversation.1".to_owned()));
}

#[test]
fn a_refused_prompt_needs_no_reply_and_the_greeting_follows_start_speaking() {
    let mut s = Script::new("BuddyWebSocketApi");
    s.tracker.sent(
        s.at(0),
        &json!({"action": "textInput", "text": "Who is Sarah?"}),
    );
    s.tracker.received(
        s.at(20),
        &json!({"type": "error", "message": "No active session"}),
    );
    assert!(s.failed().is_empty(), "{:?}", s.failed());
    // Without the error, the missing reply is a failure.
    let mut silent = Script::new("BuddyWebSocketApi");
    silent.tracker.sent(
        silent.at(0),
        &json!({"action": "textInput", "text": "Who is Sarah?"}),
    );
    assert_eq!(silent.failed(), ["conversation.2"]);
    // The speaking API greets after start_speaking, before the first answer.
    let build = |start: bool, greet: bool| {
        let mut s = Script::new("SpeakingWebSocketApi");
        if start {
            s.tracker
                .sent(s.at(0), &json!({"action": "start_speaking"}));
        }
        if greet {
            s.turn(100, 1_000, "Good morning.");
        }
        s.say(2_000, 3_000, "Hello.")
            .turn(3_500, 4_000, "Where are you from?");
        s.failed()
    };
    assert!(
        build(false, false).is_empty(),
        "no start_speaking, no greeting owed"
    );
    assert_eq!(build(true, false), ["conversation.2"]);
    assert!(build(true, true).is_empty());
    let mut opened_only = Script::new("SpeakingWebSocketApi");
    opened_only
        .tracker
        .sent(opened_only.at(0), &json!({"action": "start_speaking"}));
    assert!(
        opened_only.failed().is_empty(),
        "a session that only opens is not judged"
    );
}
