//! The client machine on its own: the transition table, every event in every reachable
//! state against a journal of what is in flight, and random event sequences.

use super::*;
use proptest::prelude::*;

/// Plain numbers for every handle.
#[derive(Debug, Clone, PartialEq)]
struct N;

impl Handles for N {
    type Lookup = u8;
    type Addrs = u8;
    type Attempt = u8;
    type Conn = u8;
    type Up = u8;
    type Timer = u8;
}

type M = ClientMachine<N>;
type E = Event<N>;
type A = Action<N>;

/// An event in the abstract: which handle it names (the one the state carries now,
/// or an old one) is decided when it is applied, and handles the shell creates
/// (attempts, connections, retry timers) are fresh each time, as the loop's are.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Ev {
    Start,
    Due(bool),
    Looking,
    Resolved(bool),
    ResolveFailed(bool),
    Started,
    StartFailed,
    DialFailed(bool),
    Connected(bool),
    Up(bool),
    Released(bool),
    Stop,
}

const EVS: [Ev; 19] = [
    Ev::Start,
    Ev::Due(true),
    Ev::Due(false),
    Ev::Looking,
    Ev::Resolved(true),
    Ev::Resolved(false),
    Ev::ResolveFailed(true),
    Ev::ResolveFailed(false),
    Ev::Started,
    Ev::StartFailed,
    Ev::DialFailed(true),
    Ev::DialFailed(false),
    Ev::Connected(true),
    Ev::Connected(false),
    Ev::Up(true),
    Ev::Up(false),
    Ev::Released(true),
    Ev::Released(false),
    Ev::Stop,
];

/// An id no state carries.
const OLD: u8 = 255;

/// The concrete event for `ev` in machine `m`'s state; `fresh` numbers new handles.
fn concrete(m: &M, ev: Ev, fresh: &mut u8) -> E {
    let mut new = || {
        *fresh = fresh.wrapping_add(1) % OLD;
        *fresh
    };
    let (lookup, attempt, conn, timer) = match m.state() {
        State::Resolving { lookup, .. } => (*lookup, OLD, OLD, OLD),
        State::Connecting { attempt, .. } => (OLD, *attempt, OLD, OLD),
        State::Handshaking { conn, .. } | State::Up { conn, .. } => (OLD, OLD, *conn, OLD),
        State::BackingOff { timer, .. } => (OLD, OLD, OLD, *timer),
        _ => (OLD, OLD, OLD, OLD),
    };
    let pick = |current: bool, id: u8| if current { id } else { OLD };
    match ev {
        Ev::Start => E::Start,
        Ev::Due(c) => E::Due(pick(c, timer)),
        Ev::Looking => E::Looking(new()),
        Ev::Resolved(c) => E::Resolved {
            lookup: pick(c, lookup),
            addrs: new(),
        },
        Ev::ResolveFailed(c) => E::ResolveFailed {
            lookup: pick(c, lookup),
            retry: new(),
        },
        Ev::Started => E::Started(new()),
        Ev::StartFailed => E::StartFailed { retry: new() },
        Ev::DialFailed(c) => E::DialFailed {
            attempt: pick(c, attempt),
            retry: new(),
        },
        Ev::Connected(c) => E::Connected {
            attempt: pick(c, attempt),
            conn: new(),
        },
        Ev::Up(c) => {
            let conn = pick(c, conn);
            E::Up { conn, handle: conn }
        }
        Ev::Released(c) => E::Released {
            conn: pick(c, conn),
            retry: new(),
        },
        Ev::Stop => E::Stop,
    }
}

/// Looks up with lookup `l` and finds addresses `addrs`: the machine dials them.
fn resolve(m: &mut M, l: u8, addrs: u8) {
    assert_eq!(m.apply(E::Looking(l)), A::None);
    assert_eq!(m.lookup(), Some(&l));
    assert_eq!(
        m.apply(E::Resolved { lookup: l, addrs }),
        A::Dial(addrs),
        "resolved"
    );
    assert_eq!(m.lookup(), None);
}

#[test]
fn table() {
    // Resolve, connect, come up, go down, no reconnect.
    let mut m = M::new(None, false);
    assert_eq!(m.apply(E::Start), A::Resolve);
    resolve(&mut m, 1, 40);
    assert_eq!(m.apply(E::Started(1)), A::None);
    assert_eq!(
        m.apply(E::Connected {
            attempt: 1,
            conn: 7
        }),
        A::Adopt
    );
    assert_eq!(m.apply(E::Up { conn: 7, handle: 7 }), A::Deliver);
    assert_eq!(m.up(), Some(&7));
    assert_eq!(m.apply(E::Released { conn: 7, retry: 1 }), A::None);
    assert!(m.settled_down() && !m.gave_up() && m.up().is_none());

    // Refused twice with a limit of 2: retry once (resolving again), then give up.
    let mut m = M::new(Some(2), false);
    m.apply(E::Start);
    resolve(&mut m, 1, 40);
    m.apply(E::Started(1));
    let fail = |a| E::DialFailed {
        attempt: a,
        retry: 9,
    };
    assert_eq!(
        m.apply(fail(1)),
        A::Retry {
            timer: 9,
            failures: 1
        }
    );
    assert_eq!(m.apply(E::Due(8)), A::None, "a stale timer");
    assert_eq!(m.apply(E::Due(9)), A::Resolve, "every retry resolves again");
    assert_eq!(
        m.apply(E::Resolved {
            lookup: 2,
            addrs: 41
        }),
        A::None,
        "an answer before its lookup started"
    );
    resolve(&mut m, 2, 41);
    assert_eq!(m.apply(E::Started(2)), A::None);
    assert_eq!(m.apply(fail(1)), A::None, "a stale attempt");
    assert_eq!(m.apply(fail(2)), A::GiveUp { failures: 2 });
    assert!(m.gave_up() && m.settled_down());
    assert_eq!(m.failures(), 2);

    // A failed lookup counts as a failed attempt; so does a failed handshake; up
    // resets the count.
    let mut m = M::new(None, true);
    m.apply(E::Start);
    assert_eq!(m.apply(E::Looking(1)), A::None);
    assert_eq!(
        m.apply(E::ResolveFailed {
            lookup: 0,
            retry: 3
        }),
        A::None,
        "a stale lookup"
    );
    assert_eq!(
        m.apply(E::Resolved {
            lookup: 0,
            addrs: 40
        }),
        A::None,
        "a stale answer"
    );
    assert_eq!(
        m.apply(E::ResolveFailed {
            lookup: 1,
            retry: 3
        }),
        A::Retry {
            timer: 3,
            failures: 1
        }
    );
    assert_eq!(m.failures(), 1);
    assert_eq!(m.apply(E::Due(3)), A::Resolve);
    resolve(&mut m, 2, 40);
    m.apply(E::Started(1));
    m.apply(E::Connected {
        attempt: 1,
        conn: 1,
    });
    assert_eq!(
        m.apply(E::Released { conn: 1, retry: 4 }),
        A::Retry {
            timer: 4,
            failures: 2
        }
    );
    m.apply(E::Due(4));
    resolve(&mut m, 3, 40);
    m.apply(E::Started(2));
    m.apply(E::Connected {
        attempt: 2,
        conn: 2,
    });
    assert_eq!(m.failures(), 2);
    assert_eq!(m.apply(E::Up { conn: 2, handle: 2 }), A::Deliver);
    assert_eq!(m.failures(), 0);
    // Down with reconnect: back off from zero failures, then resolve again.
    assert_eq!(
        m.apply(E::Released { conn: 2, retry: 5 }),
        A::Reconnect { timer: 5 }
    );
    assert!(!m.settled_down());
    assert_eq!(m.apply(E::Due(5)), A::Resolve, "a reconnect resolves again");
    resolve(&mut m, 4, 42);

    // The connector could not even start.
    let mut m = M::new(Some(1), false);
    m.apply(E::Start);
    resolve(&mut m, 1, 40);
    assert_eq!(
        m.apply(E::StartFailed { retry: 1 }),
        A::GiveUp { failures: 1 }
    );

    // The only lookup fails with a limit of 1: give up with that failure.
    let mut m = M::new(Some(1), false);
    m.apply(E::Start);
    m.apply(E::Looking(1));
    assert_eq!(
        m.apply(E::ResolveFailed {
            lookup: 1,
            retry: 2
        }),
        A::GiveUp { failures: 1 }
    );
    assert!(m.gave_up());
}

#[test]
fn stop_undoes_what_each_state_owns() {
    let reach = |path: &[E]| {
        let mut m = M::new(None, true);
        for e in path {
            m.apply(e.clone());
        }
        m
    };
    let found = E::Resolved {
        lookup: 2,
        addrs: 40,
    };
    let asking = [E::Start];
    let resolving = [E::Start, E::Looking(2)];
    let connecting = [E::Start, E::Looking(2), found.clone(), E::Started(1)];
    let handshaking = [
        E::Start,
        E::Looking(2),
        found.clone(),
        E::Started(1),
        E::Connected {
            attempt: 1,
            conn: 5,
        },
    ];
    let mut up = handshaking.to_vec();
    up.push(E::Up { conn: 5, handle: 5 });
    let backing_off = [
        E::Start,
        E::Looking(2),
        found.clone(),
        E::Started(1),
        E::DialFailed {
            attempt: 1,
            retry: 6,
        },
    ];
    let cases: [(&[E], A); 7] = [
        (&[], A::None),
        (&asking, A::None),
        (&resolving, A::CancelLookup(2)),
        (&connecting, A::Cancel(1)),
        (&handshaking, A::Close(5)),
        (&up, A::Close(5)),
        (&backing_off, A::CancelTimer(6)),
    ];
    for (path, undo) in cases {
        let mut m = reach(path);
        let up_before = m.up().is_some();
        assert_eq!(m.delivers_down(&5), up_before, "{path:?}");
        assert_eq!(m.apply(E::Stop), undo, "{path:?}");
        // The down of a connection that was up still reaches the application when
        // the stop closes it; nothing else does.
        assert_eq!(m.delivers_down(&5), up_before, "{path:?}");
        assert!(!m.delivers_down(&6));
        assert!(m.is_stopped() && m.settled_down() && m.up().is_none());
        assert_eq!(m.lookup(), None);
        // A second stop (drop after stop) changes nothing, not even whose down is owed.
        assert_eq!(m.apply(E::Stop), A::None);
        assert_eq!(
            m.delivers_down(&5),
            up_before,
            "{path:?} after a second stop"
        );
    }
    // Late reports after a stop during the handshake: the "up" is withheld and the
    // connection closed; a late connector or lookup is cancelled; nothing starts
    // again.
    let mut m = reach(&handshaking);
    m.apply(E::Stop);
    assert_eq!(m.apply(E::Up { conn: 5, handle: 5 }), A::Close(5));
    assert_eq!(m.apply(E::Started(3)), A::Cancel(3));
    assert_eq!(m.apply(E::Looking(4)), A::CancelLookup(4));
    assert_eq!(m.apply(E::Start), A::None);
    assert_eq!(m.apply(E::Released { conn: 5, retry: 1 }), A::None);
    assert!(m.is_stopped());
    // A lookup that answers after a stop during the lookup starts nothing.
    let mut m = reach(&resolving);
    m.apply(E::Stop);
    assert_eq!(m.apply(found.clone()), A::None);
    assert_eq!(
        m.apply(E::ResolveFailed {
            lookup: 2,
            retry: 7
        }),
        A::None
    );
    assert!(m.is_stopped() && m.attempt().is_none());
}

/// What is in flight according to the actions, checked against the machine's rules.
#[derive(Default, Debug)]
struct Journal {
    /// Lookups the shell started and nobody ended yet.
    lookups: Vec<u8>,
    /// Attempts the shell started and nobody ended yet.
    attempts: Vec<u8>,
    /// Connections adopted and not yet released or closed.
    conns: Vec<u8>,
    /// Backoff timers armed and not yet fired or cancelled.
    timers: Vec<u8>,
    /// Connections whose "up" reached the application.
    delivered: Vec<u8>,
    stopped: bool,
    gave_up: bool,
}

impl Journal {
    /// `before`: the failure count before the event.
    fn record(&mut self, m: &M, event: &E, action: &A, max_attempts: Option<u32>, before: u32) {
        // What the event ended.
        match event {
            E::Due(t) => self.timers.retain(|x| x != t),
            E::Resolved { lookup, .. } | E::ResolveFailed { lookup, .. } => {
                self.lookups.retain(|x| x != lookup)
            }
            E::DialFailed { attempt: a, .. } => self.attempts.retain(|x| x != a),
            E::Connected { attempt, .. } => self.attempts.retain(|x| x != attempt),
            E::Released { conn, .. } => self.conns.retain(|x| x != conn),
            E::Stop => self.stopped = true,
            // A connection that comes up must be delivered, or else closed by the
            // shell (an "up" nobody waits for would stay open): only a repeated report
            // for the connection that is up already needs neither.
            E::Up { conn, .. } => {
                let repeated = self.delivered.contains(conn) && m.up() == Some(conn);
                if !repeated && *action != A::Deliver {
                    assert_eq!(
                        *action,
                        A::Close(*conn),
                        "up of {conn} neither delivered nor closed"
                    );
                }
            }
            _ => {}
        }
        // What the action starts or ends.
        match action {
            A::Resolve => assert!(!self.stopped, "lookup after stop"),
            A::Dial(addrs) => {
                assert!(!self.stopped, "dial after stop");
                // Only the addresses the current lookup found are dialled.
                assert!(
                    matches!(event, E::Resolved { addrs: a, .. } if a == addrs),
                    "dial of {addrs} after {event:?}"
                );
            }
            A::CancelLookup(l) => self.lookups.retain(|x| x != l),
            A::Adopt => {
                assert!(!self.stopped, "adopt after stop");
                if let E::Connected { conn, .. } = event {
                    self.conns.push(*conn);
                }
            }
            A::Deliver => {
                assert!(!self.stopped, "up delivered after stop");
                assert_eq!(m.failures(), 0, "up keeps counting failures");
                if let E::Up { conn, .. } = event {
                    assert!(!self.delivered.contains(conn), "up delivered twice");
                    assert!(
                        self.conns.contains(conn),
                        "up for a connection never adopted"
                    );
                    self.delivered.push(*conn);
                }
            }
            A::Cancel(a) => self.attempts.retain(|x| x != a),
            A::Close(c) => self.conns.retain(|x| x != c),
            A::CancelTimer(t) => self.timers.retain(|x| x != t),
            A::Retry { timer, failures } => {
                assert!(!self.stopped);
                assert!(max_attempts.is_none_or(|max| *failures < max));
                assert_eq!(*failures, before + 1, "a failure counted other than once");
                self.timers.push(*timer);
            }
            A::Reconnect { timer } => {
                assert!(!self.stopped);
                self.timers.push(*timer);
            }
            A::GiveUp { failures } => {
                assert_eq!(Some(*failures), max_attempts, "gave up off the limit");
                assert_eq!(*failures, before + 1, "a failure counted other than once");
                self.gave_up = true;
            }
            A::None => {}
        }
        if let E::Started(a) = event {
            if *action == A::None {
                self.attempts.push(*a);
            }
        }
        if let E::Looking(l) = event {
            if *action == A::None {
                self.lookups.push(*l);
            } else {
                assert_eq!(*action, A::CancelLookup(*l), "a lookup left running");
            }
        }
        // At most one thing in flight, and it is the one the state carries.
        let in_flight =
            self.lookups.len() + self.attempts.len() + self.conns.len() + self.timers.len();
        assert!(in_flight <= 1, "{self:?} in {:?}", m.state());
        // The shell finds the lookup and the attempt in flight through `lookup()` and
        // `attempt()`.
        assert_eq!(m.lookup(), self.lookups.first());
        assert_eq!(m.attempt(), self.attempts.first());
        match m.state() {
            State::Resolving { lookup, .. } => assert_eq!(self.lookups, [*lookup]),
            State::Connecting { attempt, .. } => assert_eq!(self.attempts, [*attempt]),
            State::Handshaking { conn, .. } | State::Up { conn, .. } => {
                assert_eq!(self.conns, [*conn])
            }
            State::BackingOff { timer, .. } => assert_eq!(self.timers, [*timer]),
            // Nothing left behind: what a stop or a give-up leaves is nothing.
            _ => assert_eq!(in_flight, 0, "{self:?} left in {:?}", m.state()),
        }
        assert_eq!(m.is_stopped(), self.stopped);
        assert_eq!(m.gave_up(), self.gave_up && !self.stopped);
        if let Some(max) = max_attempts {
            assert!(m.failures() <= max);
        }
    }
}

fn run(max_attempts: Option<u32>, reconnect: bool, events: &[Ev]) -> M {
    let mut m = M::new(max_attempts, reconnect);
    let mut journal = Journal::default();
    let mut fresh = 0;
    for &ev in events {
        let event = concrete(&m, ev, &mut fresh);
        let before = m.failures();
        let action = m.apply(event.clone());
        journal.record(&m, &event, &action, max_attempts, before);
        // Whatever happened, the failure count only moves by one step or back to 0.
        let after = m.failures();
        assert!(
            after == before || after == before + 1 || after == 0,
            "{before} -> {after}"
        );
    }
    m
}

/// Every event applied to every reachable state (breadth-first, one path per
/// distinct state kind and failure count, until no new one appears), for each configuration, keeps the
/// journal's rules; every kind of state is reached.
#[test]
fn every_event_in_every_reachable_state() {
    for max in [None, Some(1), Some(2)] {
        for reconnect in [false, true] {
            let mut seen = std::collections::HashSet::new();
            let mut kinds = std::collections::HashSet::new();
            let mut frontier = vec![Vec::<Ev>::new()];
            while !frontier.is_empty() {
                let mut next = Vec::new();
                for path in &frontier {
                    for event in EVS {
                        let mut path = path.clone();
                        path.push(event);
                        let m = run(max, reconnect, &path);
                        // States differ by kind and failure count; ids are fresh on
                        // every path, and counts past the largest limit add nothing.
                        let state = format!("{:?}", m.state());
                        let kind = state.split([' ', '{']).next().unwrap_or("").to_string();
                        kinds.insert(kind.clone());
                        if seen.insert((kind, m.failures().min(3))) {
                            next.push(path);
                        }
                    }
                }
                frontier = next;
            }
            let mut want = vec![
                "Idle",
                "Asking",
                "Resolving",
                "Dialing",
                "Connecting",
                "Handshaking",
                "Up",
                "Stopped",
            ];
            if max != Some(1) {
                want.push("BackingOff");
            }
            if max.is_some() {
                want.push("GaveUp");
            }
            if !reconnect {
                want.push("Disconnected");
            }
            for k in want {
                assert!(
                    kinds.contains(k),
                    "{k} never reached ({max:?}, {reconnect})"
                );
            }
        }
    }
}

fn any_event() -> impl Strategy<Value = Ev> {
    proptest::sample::select(EVS.to_vec())
}

proptest! {
    #[test]
    fn random_sequences_keep_the_rules(
        max in proptest::option::of(1u32..4),
        reconnect: bool,
        events in proptest::collection::vec(any_event(), 0..60),
    ) {
        run(max, reconnect, &events);
    }
}
