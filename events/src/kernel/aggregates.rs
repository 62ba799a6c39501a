//! [`Aggregates`]: every aggregate of one decider, by id, with the index of when each next
//! falls due — so no service writes its own map, its own due index or its own catch-up loop.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Serialize, Serializer};

use super::{apply_due, decide_at, Context, Decider, Decision, Emit, Rejection, Transition};
use crate::event::Event;
use crate::id::TenantId;
use crate::time::Timestamp;

/// Every aggregate of decider `D` by id (ordered, so the state serialises — and digests — the
/// same way whatever the order events arrived in), and `(due time, id)` of each one's next
/// transition: the scheduler reads only the front, so an idle service with a million
/// subscriptions looks at one entry.
pub struct Aggregates<Id, D: Decider> {
    states: BTreeMap<Id, D::State>,
    due: BTreeSet<(Timestamp, Id)>,
}

impl<Id, D: Decider> Default for Aggregates<Id, D> {
    fn default() -> Self {
        Aggregates {
            states: BTreeMap::new(),
            due: BTreeSet::new(),
        }
    }
}

impl<Id: Clone, D: Decider> Clone for Aggregates<Id, D> {
    fn clone(&self) -> Self {
        Aggregates {
            states: self.states.clone(),
            due: self.due.clone(),
        }
    }
}

impl<Id: std::fmt::Debug, D: Decider> std::fmt::Debug for Aggregates<Id, D>
where
    D::State: std::fmt::Debug,
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.states.iter()).finish()
    }
}

impl<Id: PartialEq, D: Decider> PartialEq for Aggregates<Id, D>
where
    D::State: PartialEq,
{
    fn eq(&self, other: &Self) -> bool {
        // The due index is derived from the states.
        self.states == other.states
    }
}

impl<Id: Eq, D: Decider> Eq for Aggregates<Id, D> where D::State: Eq {}

/// The states alone: the due index is derived from them, so it adds nothing to a digest.
impl<Id: Serialize, D: Decider> Serialize for Aggregates<Id, D>
where
    D::State: Serialize,
{
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.states.serialize(serializer)
    }
}

impl<Id: Ord + Copy, D: Decider> Aggregates<Id, D> {
    /// The aggregate `id` as recorded (`None` if nothing happened to it yet).
    pub fn get(&self, id: Id) -> Option<&D::State> {
        self.states.get(&id)
    }

    /// The aggregate `id`'s state, `Default` if nothing happened to it yet.
    pub fn state(&self, id: Id) -> D::State {
        self.states.get(&id).cloned().unwrap_or_default()
    }

    /// Every aggregate, by id.
    pub fn iter(&self) -> impl Iterator<Item = (&Id, &D::State)> {
        self.states.iter()
    }

    /// Every aggregate's state, by id.
    pub fn values(&self) -> impl Iterator<Item = &D::State> {
        self.states.values()
    }

    /// How many aggregates there are.
    pub fn len(&self) -> usize {
        self.states.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.states.is_empty()
    }

    /// Folds one recorded event into aggregate `id`, keeping its due entry current.
    pub fn evolve(&mut self, id: Id, event: &D::Event) {
        let state = self.states.entry(id).or_default();
        if let Some(due) = D::next_due(state) {
            self.due.remove(&(due.at, id));
        }
        D::evolve(state, event);
        if let Some(due) = D::next_due(state) {
            self.due.insert((due.at, id));
        }
    }

    /// Decides `command` on aggregate `id` at `ctx.now`, what is already due applied first (a
    /// cancel after a term end is judged against the new term).
    pub fn decide(
        &self,
        id: Id,
        command: &D::Command,
        ctx: &Context,
    ) -> Result<Decision<D::Event>, Rejection> {
        match self.states.get(&id) {
            Some(state) => decide_at::<D>(state, command, ctx),
            None => decide_at::<D>(&D::State::default(), command, ctx),
        }
    }

    /// Every transition due at or before `now`, of every aggregate, in due order per
    /// aggregate (one down for years catches up term by term): what the scheduler records.
    pub fn due(&self, now: Timestamp) -> Vec<(Id, Transition<D::Event>)> {
        let mut out = Vec::new();
        for &(_, id) in self.due.iter().take_while(|(at, _)| *at <= now) {
            out.extend(self.due_of(id, now).into_iter().map(|t| (id, t)));
        }
        out
    }

    /// The transitions of aggregate `id` due at or before `at`: what must be recorded before
    /// anything that happens to it at `at` is judged (a reaction to an upstream event effective
    /// then, say).
    pub fn due_of(&self, id: Id, at: Timestamp) -> Vec<Transition<D::Event>> {
        match self.states.get(&id) {
            Some(state) if D::next_due(state).is_some_and(|d| d.at <= at) => {
                apply_due::<D>(&mut state.clone(), at)
            }
            _ => Vec::new(),
        }
    }

    /// When the next transition of any aggregate falls due.
    pub fn next_due_at(&self) -> Option<Timestamp> {
        self.due.first().map(|(at, _)| *at)
    }

    /// Aggregate `id` as a reader at `now` should see it: a transition that is due but not yet
    /// recorded (the scheduler runs every few seconds) shown as it will be.
    pub fn view(&self, id: Id, now: Timestamp) -> Option<D::State> {
        let mut state = self.states.get(&id)?.clone();
        apply_due::<D>(&mut state, now);
        Some(state)
    }
}

impl<Id: Ord + Copy, D: Decider<Event = Event>> Aggregates<Id, D> {
    /// What the scheduler records at `now` ([`Aggregates::due`]), routed: each transition's
    /// partner, where its event does not name it, is `partner` of its aggregate's state.
    pub fn due_emits(
        &self,
        now: Timestamp,
        partner: impl Fn(&D::State) -> Option<TenantId>,
    ) -> Vec<Emit> {
        let partner_of = |id| self.states.get(&id).and_then(&partner);
        let due = self.due(now).into_iter();
        due.map(|(id, t)| Emit::due(t, partner_of(id))).collect()
    }

    /// [`Aggregates::decide`], as the runtime records it ([`Decision::into_emits`]): a
    /// handler's whole decision in one call. `partner` reads it from the aggregate's state for
    /// the events that do not name their own.
    pub fn decide_emits(
        &self,
        id: Id,
        command: &D::Command,
        ctx: &Context,
        partner: impl Fn(&D::State) -> Option<TenantId>,
    ) -> Result<Vec<Emit>, Rejection> {
        let decision = self.decide(id, command, ctx)?;
        Ok(decision.into_emits(self.states.get(&id).and_then(partner)))
    }
}

/// [`Aggregates`] as a batch being decided sees them: the recorded states, and a copy of each
/// aggregate the batch changed — only those, so a catch-up batch of 1,000 events costs the
/// aggregates it touches, never a clone of the whole collection.
pub struct Overlay<'a, Id, D: Decider> {
    base: &'a Aggregates<Id, D>,
    changed: BTreeMap<Id, D::State>,
}

impl<'a, Id: Ord + Copy, D: Decider> Overlay<'a, Id, D> {
    /// Nothing changed yet.
    pub fn new(base: &'a Aggregates<Id, D>) -> Overlay<'a, Id, D> {
        Overlay {
            base,
            changed: BTreeMap::new(),
        }
    }

    /// Aggregate `id` as the batch sees it (`None` if nothing happened to it yet).
    pub fn get(&self, id: Id) -> Option<&D::State> {
        self.changed.get(&id).or_else(|| self.base.get(id))
    }

    /// Folds an event the batch records into aggregate `id`.
    pub fn evolve(&mut self, id: Id, event: &D::Event) {
        D::evolve(self.entry(id), event);
    }

    /// Applies the transitions of aggregate `id` due at or before `at` and returns them, for
    /// the runtime to record ahead of whatever happens to the aggregate at `at`.
    pub fn catch_up(&mut self, id: Id, at: Timestamp) -> Vec<Transition<D::Event>> {
        match self.get(id) {
            Some(state) if D::next_due(state).is_some_and(|d| d.at <= at) => {
                apply_due::<D>(self.entry(id), at)
            }
            _ => Vec::new(),
        }
    }

    fn entry(&mut self, id: Id) -> &mut D::State {
        let base = self.base;
        self.changed
            .entry(id)
            .or_insert_with(|| base.get(id).cloned().unwrap_or_default())
    }
}
