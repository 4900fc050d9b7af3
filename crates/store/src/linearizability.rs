//! A small linearizability checker (Wing & Gong's search with Lowe's memoization), used by the
//! conformance suite to check histories recorded against a live store.
//!
//! Keys are independent registers, so the history is split per key and each key is checked on
//! its own: that keeps every search small.

use std::collections::{BTreeMap, HashSet};
use std::fmt::Debug;
use std::hash::Hash;

use bytes::Bytes;

use crate::Revision;

/// A sequential specification: which outputs an input may produce in a state, and the state
/// afterwards.
pub trait Model {
    type State: Clone + Eq + Hash + Debug;
    type Input: Debug;
    type Output: Debug;

    fn init(&self) -> Self::State;

    /// The state after applying `input` in `state` and observing `output`, or `None` if a
    /// sequential execution could not have produced `output`.
    fn step(
        &self,
        state: &Self::State,
        input: &Self::Input,
        output: &Self::Output,
    ) -> Option<Self::State>;
}

/// One completed operation: when it was invoked and when it returned (any monotonic clock, e.g.
/// nanoseconds since the test began), what it asked and what it got.
#[derive(Clone, Debug)]
pub struct Operation<I, O> {
    pub key: String,
    pub call: u64,
    pub ret: u64,
    pub input: I,
    pub output: O,
}

type ModelOperation<M> = Operation<<M as Model>::Input, <M as Model>::Output>;

/// The history of one key has no valid linearization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotLinearizable {
    pub key: String,
    pub operations: usize,
}

impl std::fmt::Display for NotLinearizable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the {} operations on key {:?} are not linearizable",
            self.operations, self.key
        )
    }
}

impl std::error::Error for NotLinearizable {}

/// Check that every key's operations in `history` are linearizable with respect to `model`.
pub fn check<M: Model>(
    model: &M,
    history: &[Operation<M::Input, M::Output>],
) -> Result<(), NotLinearizable> {
    let mut per_key: BTreeMap<&str, Vec<&ModelOperation<M>>> = BTreeMap::new();
    for op in history {
        per_key.entry(&op.key).or_default().push(op);
    }
    for (key, mut ops) in per_key {
        ops.sort_by_key(|op| op.call);
        let mut search = Search {
            model,
            ops: &ops,
            linearized: vec![0; ops.len().div_ceil(64)],
            seen: HashSet::new(),
        };
        if !search.run(model.init(), ops.len()) {
            return Err(NotLinearizable {
                key: key.to_owned(),
                operations: ops.len(),
            });
        }
    }
    Ok(())
}

struct Search<'a, M: Model> {
    model: &'a M,
    /// Sorted by invocation time.
    ops: &'a [&'a Operation<M::Input, M::Output>],
    /// Bitset of the operations already placed in the linearization.
    linearized: Vec<u64>,
    /// (linearized set, state) pairs already explored: reaching one again cannot succeed.
    seen: HashSet<(Vec<u64>, M::State)>,
}

impl<M: Model> Search<'_, M> {
    fn is_done(&self, i: usize) -> bool {
        self.linearized[i / 64] & (1 << (i % 64)) != 0
    }

    fn toggle(&mut self, i: usize) {
        self.linearized[i / 64] ^= 1 << (i % 64);
    }

    fn run(&mut self, state: M::State, remaining: usize) -> bool {
        if remaining == 0 {
            return true;
        }
        // An operation can go next only if no pending operation returned before it was called.
        let earliest_return = (0..self.ops.len())
            .filter(|i| !self.is_done(*i))
            .map(|i| self.ops[i].ret)
            .min();
        let Some(earliest_return) = earliest_return else {
            return true;
        };
        for i in 0..self.ops.len() {
            let op = self.ops[i];
            if op.call > earliest_return {
                break;
            }
            if self.is_done(i) {
                continue;
            }
            let Some(next) = self.model.step(&state, &op.input, &op.output) else {
                continue;
            };
            self.toggle(i);
            if self.seen.insert((self.linearized.clone(), next.clone()))
                && self.run(next, remaining - 1)
            {
                return true;
            }
            self.toggle(i);
        }
        false
    }
}

/// A key as a register with the store's conditional writes.
#[derive(Clone, Debug)]
pub enum RegisterInput {
    Get,
    Create(Bytes),
    Update { value: Bytes, expected: Revision },
    Delete { expected: Option<Revision> },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RegisterOutput {
    /// A read: the value and `mod_revision`, if the key existed.
    Read(Option<(Bytes, Revision)>),
    /// A successful write at this revision.
    Written(Revision),
    AlreadyExists,
    NotFound,
    Conflict,
}

/// The per-key register model; its state is the current value and `mod_revision`.
pub struct CasRegister;

impl Model for CasRegister {
    type State = Option<(Bytes, Revision)>;
    type Input = RegisterInput;
    type Output = RegisterOutput;

    fn init(&self) -> Self::State {
        None
    }

    fn step(
        &self,
        state: &Self::State,
        input: &RegisterInput,
        output: &RegisterOutput,
    ) -> Option<Self::State> {
        use RegisterInput as I;
        use RegisterOutput as O;
        let current_revision = state.as_ref().map(|(_, r)| *r);
        match (input, output) {
            (I::Get, O::Read(read)) => (read == state).then(|| state.clone()),
            (I::Create(value), O::Written(revision)) => {
                state.is_none().then(|| Some((value.clone(), *revision)))
            }
            (I::Create(_), O::AlreadyExists) => state.is_some().then(|| state.clone()),
            (I::Update { value, expected }, O::Written(revision)) => {
                (current_revision == Some(*expected) && *revision > *expected)
                    .then(|| Some((value.clone(), *revision)))
            }
            (I::Update { expected, .. }, O::Conflict)
            | (
                I::Delete {
                    expected: Some(expected),
                },
                O::Conflict,
            ) => current_revision
                .is_some_and(|r| r != *expected)
                .then(|| state.clone()),
            (I::Update { .. } | I::Delete { .. }, O::NotFound) => state.is_none().then_some(None),
            (I::Delete { expected }, O::Written(revision)) => current_revision
                .is_some_and(|r| expected.is_none_or(|e| e == r) && *revision > r)
                .then_some(None),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use RegisterInput as I;
    use RegisterOutput as O;

    fn op(
        call: u64,
        ret: u64,
        input: RegisterInput,
        output: RegisterOutput,
    ) -> Operation<RegisterInput, RegisterOutput> {
        Operation {
            key: "k".into(),
            call,
            ret,
            input,
            output,
        }
    }

    fn v(s: &'static str) -> Bytes {
        Bytes::from_static(s.as_bytes())
    }

    #[test]
    fn accepts_a_concurrent_history_with_a_valid_order() {
        // The read overlaps both writes, so it may see either value.
        let history = vec![
            op(0, 10, I::Create(v("a")), O::Written(2)),
            op(
                5,
                30,
                I::Update {
                    value: v("b"),
                    expected: 2,
                },
                O::Written(3),
            ),
            op(12, 25, I::Get, O::Read(Some((v("b"), 3)))),
            op(
                11,
                20,
                I::Update {
                    value: v("c"),
                    expected: 2,
                },
                O::Conflict,
            ),
        ];
        assert_eq!(check(&CasRegister, &history), Ok(()));
    }

    #[test]
    fn rejects_a_stale_read_after_a_completed_write() {
        let history = vec![
            op(0, 10, I::Create(v("a")), O::Written(2)),
            op(
                11,
                20,
                I::Update {
                    value: v("b"),
                    expected: 2,
                },
                O::Written(3),
            ),
            // Starts after the update returned but still sees the old value.
            op(21, 30, I::Get, O::Read(Some((v("a"), 2)))),
        ];
        assert!(check(&CasRegister, &history).is_err());
    }

    #[test]
    fn rejects_two_successful_compare_and_swaps_from_the_same_revision() {
        let history = vec![
            op(0, 10, I::Create(v("a")), O::Written(2)),
            op(
                11,
                20,
                I::Update {
                    value: v("b"),
                    expected: 2,
                },
                O::Written(3),
            ),
            op(
                12,
                21,
                I::Update {
                    value: v("c"),
                    expected: 2,
                },
                O::Written(4),
            ),
        ];
        let err = check(&CasRegister, &history).unwrap_err();
        assert_eq!(
            err,
            NotLinearizable {
                key: "k".into(),
                operations: 3
            }
        );
    }

    #[test]
    fn keys_are_checked_independently() {
        let mut history = vec![op(0, 10, I::Create(v("a")), O::Written(2))];
        let mut other = op(0, 10, I::Create(v("x")), O::Written(3));
        other.key = "other".into();
        history.push(other);
        assert_eq!(check(&CasRegister, &history), Ok(()));
        history.push(op(20, 30, I::Get, O::Read(None)));
        assert!(check(&CasRegister, &history).is_err());
    }
}
