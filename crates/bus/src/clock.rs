//! Time, as services read it. Domain code never reads a clock: the shell reads this one and
//! passes `now` in through the decider's `Context`. The manual clock lets tests and the demo
//! move time on purpose (a term end, a closing window); it is switched on by a flag and never
//! by default.

use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use csp_events::Timestamp;
use tokio::sync::watch;

/// The service's clock.
#[derive(Clone)]
pub enum Clock {
    /// Wall-clock time.
    System,
    /// Time that moves only when told to.
    Manual(ManualClock),
}

impl Clock {
    /// A manual clock starting at `start`.
    pub fn manual(start: Timestamp) -> Clock {
        Clock::Manual(ManualClock::new(start))
    }

    /// The current time.
    pub fn now(&self) -> Timestamp {
        match self {
            Clock::System => system_now(),
            Clock::Manual(m) => m.now(),
        }
    }

    /// Whether this is a manual clock (its admin endpoint is served only then).
    pub fn is_manual(&self) -> bool {
        matches!(self, Clock::Manual(_))
    }

    /// A receiver that changes when a manual clock moves; `None` for a system clock, which
    /// never signals (its readers poll on a timer instead). Not a receiver whose sender is
    /// gone: its `changed()` returns at once, forever, and a loop waiting on it spins.
    pub fn changes(&self) -> Option<watch::Receiver<Timestamp>> {
        match self {
            Clock::System => None,
            Clock::Manual(m) => Some(m.tx.subscribe()),
        }
    }
}

/// Wall-clock now, truncated to the microsecond like every stored time.
pub fn system_now() -> Timestamp {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    Timestamp::from_micros(i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}

/// Wall-clock seconds since the epoch: token expiry is security time, never the manual clock.
pub fn wall_seconds() -> i64 {
    system_now().as_micros() / 1_000_000
}

/// A clock that moves only forwards, and only when told.
#[derive(Clone)]
pub struct ManualClock {
    now: Arc<Mutex<Timestamp>>,
    tx: Arc<watch::Sender<Timestamp>>,
}

/// A manual clock cannot go back: events already recorded would be in its future.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the clock is at {now} and cannot go back to {asked}")]
pub struct ClockBackwards {
    /// Where the clock is.
    pub now: Timestamp,
    /// Where it was asked to go.
    pub asked: Timestamp,
}

impl ManualClock {
    /// A clock at `start`.
    pub fn new(start: Timestamp) -> ManualClock {
        let (tx, _) = watch::channel(start);
        ManualClock {
            now: Arc::new(Mutex::new(start)),
            tx: Arc::new(tx),
        }
    }

    /// The clock's time.
    pub fn now(&self) -> Timestamp {
        *self.now.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Moves the clock to `to` (not backwards) and wakes whoever watches it (the scheduler).
    pub fn set(&self, to: Timestamp) -> Result<Timestamp, ClockBackwards> {
        let mut now = self.now.lock().unwrap_or_else(|p| p.into_inner());
        if to < *now {
            return Err(ClockBackwards {
                now: *now,
                asked: to,
            });
        }
        *now = to;
        self.tx.send_replace(to);
        Ok(to)
    }

    /// Moves the clock forward by `micros`.
    pub fn advance_micros(&self, micros: u64) -> Timestamp {
        let mut now = self.now.lock().unwrap_or_else(|p| p.into_inner());
        let to = Timestamp::from_micros(
            now.as_micros()
                .saturating_add(i64::try_from(micros).unwrap_or(i64::MAX)),
        );
        *now = to;
        self.tx.send_replace(to);
        to
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_forward_and_signals() {
        let start = Timestamp::ymd_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let clock = Clock::manual(start);
        let mut changes = clock.changes().expect("a manual clock signals");
        assert_eq!(clock.now(), start);
        let Clock::Manual(m) = &clock else {
            unreachable!()
        };
        let later = m.advance_micros(3_600_000_000);
        assert_eq!(clock.now(), later);
        assert!(changes.has_changed().unwrap());
        assert_eq!(*changes.borrow_and_update(), later);
        assert!(m.set(start).is_err());
        assert!(!Clock::System.is_manual());
        assert!(Clock::System.changes().is_none());
        assert!(clock.is_manual());
    }
}
