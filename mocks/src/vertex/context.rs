//! The context window of a Live session, as Vertex bills it: every model
//! turn's prompt is the whole context so far (the system instruction, then
//! block after block of a user turn's input and the model turn that answered
//! it), earlier turns' audio included.
//!
//! With `contextWindowCompression` (sliding window), a model turn whose
//! context exceeds `triggerTokens` first discards whole blocks from the start
//! until the context is at most `targetTokens` (default: half the trigger),
//! so the context begins at a user turn and the system instruction stays, as
//! Google's SDK references describe it. The current user turn's input is
//! never discarded. The trigger defaults to 80% of the model's context limit.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

/// The native-audio Live model's context window (tokens), whose 80% is the
/// default trigger.
pub(crate) const CONTEXT_LIMIT_TOKENS: u64 = 128_000;

/// `contextWindowCompression` with a sliding window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Compression {
    /// Context size that triggers compression before a turn.
    pub trigger_tokens: u64,
    /// Context size the sliding window reduces it to.
    pub target_tokens: u64,
}

impl Compression {
    /// From the setup's fields, with Vertex's defaults for those left out.
    pub fn new(trigger_tokens: Option<u64>, target_tokens: Option<u64>) -> Self {
        let trigger_tokens = trigger_tokens.unwrap_or(CONTEXT_LIMIT_TOKENS * 4 / 5);
        Self {
            trigger_tokens,
            target_tokens: target_tokens.unwrap_or(trigger_tokens / 2),
        }
    }
}

/// Tokens by modality.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Block {
    audio: u64,
    text: u64,
}

impl Block {
    fn total(self) -> u64 {
        self.audio + self.text
    }
}

/// One session's context.
#[derive(Debug, Clone, Default)]
pub(crate) struct ContextWindow {
    system_text: u64,
    /// Finished blocks, oldest first.
    blocks: VecDeque<Block>,
    /// The block of the model turn under way (its user input, then its output).
    current: Option<Block>,
    /// User input since the last model turn began.
    pending: Block,
    /// Audio tokens already counted into blocks (audio is counted from the
    /// session's whole duration, so the blocks add up to it exactly).
    counted_audio: u64,
    compression: Option<Compression>,
    /// Times the sliding window discarded blocks.
    trims: u32,
}

impl ContextWindow {
    /// The system instruction's tokens.
    pub(crate) fn set_system_text(&mut self, tokens: u64) {
        self.system_text = tokens;
    }

    /// Turns compression on (or off).
    pub(crate) fn set_compression(&mut self, compression: Option<Compression>) {
        self.compression = compression;
    }

    /// The compression in force.
    pub(crate) fn compression(&self) -> Option<Compression> {
        self.compression
    }

    /// Typed user input.
    pub(crate) fn add_user_text(&mut self, tokens: u64) {
        self.pending.text += tokens;
    }

    /// Times the sliding window discarded blocks.
    pub(crate) fn trims(&self) -> u32 {
        self.trims
    }

    fn size(&self) -> Block {
        let mut size = Block {
            audio: 0,
            text: self.system_text,
        };
        for block in self.blocks.iter().chain(self.current.iter()) {
            size.audio += block.audio;
            size.text += block.text;
        }
        size
    }

    /// A model turn begins, the session having received audio worth
    /// `audio_tokens_so_far` in all: the prompt's audio and text tokens, and
    /// whether the sliding window discarded blocks first.
    pub(crate) fn begin_model_turn(&mut self, audio_tokens_so_far: u64) -> (u64, u64, bool) {
        if let Some(unfinished) = self.current.take() {
            self.blocks.push_back(unfinished);
        }
        self.pending.audio += audio_tokens_so_far.saturating_sub(self.counted_audio);
        self.counted_audio = self.counted_audio.max(audio_tokens_so_far);
        self.current = Some(std::mem::take(&mut self.pending));
        let mut trimmed = false;
        if let Some(compression) = self.compression
            && self.size().total() > compression.trigger_tokens
        {
            while self.size().total() > compression.target_tokens
                && self.blocks.pop_front().is_some()
            {
                trimmed = true;
            }
            if trimmed {
                self.trims += 1;
            }
        }
        let size = self.size();
        (size.audio, size.text, trimmed)
    }

    /// The model turn under way ends with what it produced.
    pub(crate) fn finish_model_turn(&mut self, audio: u64, text: u64) {
        let mut block = self.current.take().unwrap_or_default();
        block.audio += audio;
        block.text += text;
        self.blocks.push_back(block);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Five turns, each after 1,000 audio tokens of input, each answered
    /// with 200 audio tokens; a 100-token system instruction.
    fn run(window: &mut ContextWindow) -> Vec<(u64, u64, bool)> {
        window.set_system_text(100);
        (1..=5)
            .map(|turn| {
                let prompt = window.begin_model_turn(turn * 1_000);
                window.finish_model_turn(200, 0);
                prompt
            })
            .collect()
    }

    #[test]
    fn without_compression_every_prompt_is_the_whole_context() {
        let prompts = run(&mut ContextWindow::default());
        let audio: Vec<u64> = prompts.iter().map(|p| p.0).collect();
        assert_eq!(audio, [1_000, 2_200, 3_400, 4_600, 5_800]);
        assert!(prompts.iter().all(|p| p.1 == 100 && !p.2));
    }

    #[test]
    fn the_sliding_window_discards_whole_blocks_down_to_the_target() {
        let mut window = ContextWindow::default();
        window.set_compression(Some(Compression::new(Some(3_000), Some(2_000))));
        let prompts = run(&mut window);
        // Turn 3 would see 3,400 + 100 > 3,000: blocks of 1,200 go until
        // 2,000 or less is left (only the current turn's 1,000 and the
        // system instruction), and the context grows again from there.
        assert_eq!(
            prompts,
            [
                (1_000, 100, false),
                (2_200, 100, false),
                (1_000, 100, true),
                (2_200, 100, false),
                (1_000, 100, true),
            ]
        );
        assert_eq!(window.trims(), 2);
    }

    #[test]
    fn the_current_turns_input_stays_even_over_the_target() {
        let mut window = ContextWindow::default();
        window.set_compression(Some(Compression::new(Some(500), Some(100))));
        window.set_system_text(50);
        let (audio, text, trimmed) = window.begin_model_turn(2_000);
        assert_eq!((audio, text, trimmed), (2_000, 50, false));
    }

    #[test]
    fn defaults_follow_the_context_limit() {
        let compression = Compression::new(None, None);
        assert_eq!(compression.trigger_tokens, 102_400);
        assert_eq!(compression.target_tokens, 51_200);
        assert_eq!(Compression::new(Some(10), None).target_tokens, 5);
    }
}
