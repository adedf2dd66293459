//! The examiner's misbehaviours on demand (the `misbehave` fault): one
//! deliberate mistake per session, at a given model turn, so a harness can
//! prove its conversation checks catch each one. [`MisbehaviourPlan`]
//! decides which line a model turn says, whether another turn follows at
//! once, and whether a reply starts over the candidate's speech; the live
//! session acts on those answers.

use super::faults::Misbehaviour;
use super::script::{ExaminerPart, closing_line, first_line_after_part, script_line};

/// Which line a model turn says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LineChoice {
    /// The script line.
    pub line: usize,
    /// Whether the script moves on past it (otherwise it stays where it was).
    pub advance: bool,
}

/// A model turn that follows another at once, with no user turn between.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FollowUp {
    /// The next script line.
    NextLine,
    /// The very same turn again.
    SameTurn,
}

/// One session's misbehaviour and whether it happened yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct MisbehaviourPlan {
    how: Misbehaviour,
    at_turn: u32,
    done: bool,
}

impl MisbehaviourPlan {
    /// `how`, at model turn `at_turn` (0 is the greeting).
    pub(crate) fn new(how: Misbehaviour, at_turn: u32) -> Self {
        Self {
            how,
            at_turn,
            done: false,
        }
    }

    /// Whether it has happened.
    #[cfg(test)]
    pub(crate) fn done(&self) -> bool {
        self.done
    }

    /// The line model turn `turn` says instead of `next_line`, if this is
    /// where the misbehaviour happens (`part`: the part of the last line said).
    pub(crate) fn choose(
        &mut self,
        turn: u32,
        next_line: usize,
        part: ExaminerPart,
    ) -> Option<LineChoice> {
        if self.done {
            return None;
        }
        let choice = match self.how {
            Misbehaviour::SkipPart if turn >= self.at_turn => {
                // From the start (at_turn 0), Part 1 itself is skipped.
                let entering = script_line(next_line)?.part;
                if entering == part {
                    return None;
                }
                LineChoice {
                    line: first_line_after_part(entering)?,
                    advance: true,
                }
            }
            Misbehaviour::StaleTurn if turn == self.at_turn => LineChoice {
                line: next_line.checked_sub(1)?,
                advance: false,
            },
            Misbehaviour::EarlyClosing if turn == self.at_turn => LineChoice {
                line: closing_line(),
                advance: false,
            },
            _ => return None,
        };
        self.done = true;
        Some(choice)
    }

    /// Whether a turn follows model turn `finished` at once (it ended
    /// without being interrupted).
    pub(crate) fn follow_up(&mut self, finished: u32) -> Option<FollowUp> {
        if self.done || finished != self.at_turn {
            return None;
        }
        let follow_up = match self.how {
            Misbehaviour::AnswerTwice => FollowUp::NextLine,
            Misbehaviour::RepeatTurn => FollowUp::SameTurn,
            _ => return None,
        };
        self.done = true;
        Some(follow_up)
    }

    /// Whether the reply that would be model turn `upcoming` starts now, as
    /// the candidate starts speaking.
    pub(crate) fn speaks_over(&mut self, upcoming: u32) -> bool {
        let now = !self.done && self.how == Misbehaviour::SpeakOver && upcoming == self.at_turn;
        self.done |= now;
        now
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vertex::conversation::Conversation;
    use crate::vertex::script::SCRIPT;

    /// Plays `user_turns` candidate answers (a greeting first), completing
    /// every model turn and its follow-ups; returns the lines said, in order.
    fn lines_said(how: Misbehaviour, at_turn: u32, user_turns: usize) -> Vec<usize> {
        let mut conversation = Conversation::default();
        conversation.set_misbehaviour(how, at_turn);
        let mut said = Vec::new();
        for _ in 0..=user_turns {
            conversation.count_user_turn();
            let mut turn = conversation.begin_model_turn().expect("a line");
            loop {
                said.push(turn.line);
                conversation.finish_model_turn(&turn, &turn.usage, false);
                if !conversation.follow_up(turn.index) {
                    break;
                }
                turn = conversation.begin_model_turn().expect("a line");
            }
        }
        said
    }

    #[test]
    fn answer_twice_adds_the_next_line_without_a_user_turn() {
        assert_eq!(
            lines_said(Misbehaviour::AnswerTwice, 1, 3),
            vec![0, 1, 2, 3, 4]
        );
        let mut conversation = Conversation::default();
        conversation.set_misbehaviour(Misbehaviour::AnswerTwice, 1);
        for _ in 0..2 {
            conversation.count_user_turn();
            let turn = conversation.begin_model_turn().unwrap();
            conversation.finish_model_turn(&turn, &turn.usage, false);
        }
        assert!(conversation.follow_up(1));
        let follow = conversation.begin_model_turn().unwrap();
        assert_eq!(follow.index, 2);
        assert_eq!(
            conversation.turns()[2].answers_user_turn,
            2,
            "no user turn between"
        );
    }

    #[test]
    fn skip_part_jumps_from_part_1_to_part_3() {
        let said = lines_said(Misbehaviour::SkipPart, 1, 11);
        assert_eq!(said, vec![0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 13]);
        assert!(
            said.iter()
                .all(|line| SCRIPT[*line].part != ExaminerPart::Part2)
        );
    }

    #[test]
    fn skip_part_from_the_start_skips_part_1() {
        let said = lines_said(Misbehaviour::SkipPart, 0, 2);
        assert_eq!(said, vec![10, 11, 12]);
    }

    #[test]
    fn an_interrupted_turn_is_not_followed_up() {
        let mut conversation = Conversation::default();
        conversation.set_misbehaviour(Misbehaviour::RepeatTurn, 0);
        let turn = conversation.begin_model_turn().unwrap();
        conversation.finish_model_turn(&turn, &turn.usage, true);
        assert!(!conversation.follow_up(turn.index));
    }

    #[test]
    fn repeat_turn_says_the_same_line_twice() {
        assert_eq!(
            lines_said(Misbehaviour::RepeatTurn, 2, 3),
            vec![0, 1, 2, 2, 3]
        );
    }

    #[test]
    fn stale_turn_says_the_previous_line_again() {
        assert_eq!(
            lines_said(Misbehaviour::StaleTurn, 2, 4),
            vec![0, 1, 1, 2, 3]
        );
    }

    #[test]
    fn early_closing_then_the_script_goes_on() {
        let said = lines_said(Misbehaviour::EarlyClosing, 3, 5);
        assert_eq!(said, vec![0, 1, 2, closing_line(), 3, 4]);
    }

    #[test]
    fn speak_over_fires_once_for_its_turn() {
        let mut plan = MisbehaviourPlan::new(Misbehaviour::SpeakOver, 2);
        assert!(!plan.speaks_over(1));
        assert!(plan.speaks_over(2));
        assert!(!plan.speaks_over(2), "once per session");
        let mut other = MisbehaviourPlan::new(Misbehaviour::AnswerTwice, 2);
        assert!(!other.speaks_over(2));
        assert!(!other.done());
    }
}
