//! The reading machine, tested as `net`'s `Lifecycle` is: its table row by row, every
//! event in every state, and random sequences of events against a journal of the rules
//! the codec relies on. Bodies are numbered, so a body lost or handed back twice shows.

use std::time::{Duration, Instant};

use proptest::prelude::*;

use super::*;

type R = Reading<u32>;

const HEADER: Duration = Duration::from_secs(10);
const KEEP_ALIVE: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Copy)]
enum Ev {
    HeadBytes,
    /// `close`, and a body (with a 100 Continue owed or not).
    HeadParsed(bool, Option<bool>),
    BodyDone,
    TakeContinue,
    Hold(Hold),
    /// Release, the codec allowing it or not.
    Release(bool),
    PeerEnded,
    Finish,
    WentIdle,
}

const EVENTS: [Ev; 15] = [
    Ev::HeadBytes,
    Ev::HeadParsed(false, None),
    Ev::HeadParsed(true, None),
    Ev::HeadParsed(false, Some(false)),
    Ev::HeadParsed(true, Some(true)),
    Ev::BodyDone,
    Ev::TakeContinue,
    Ev::Hold(Hold::PipelineFull),
    Ev::Hold(Hold::OutputFull),
    Ev::Hold(Hold::Upgrade),
    Ev::Release(true),
    Ev::Release(false),
    Ev::PeerEnded,
    Ev::Finish,
    Ev::WentIdle,
];

/// Every shape a state can have (bodies numbered 7).
fn states(now: Instant) -> Vec<R> {
    let mut all = vec![
        Reading::Between { idle_since: None },
        Reading::Between {
            idle_since: Some(now),
        },
        Reading::Head { started: now },
        Reading::Done,
    ];
    for last in [false, true] {
        for continue_owed in [false, true] {
            all.push(Reading::Body {
                body: 7,
                last,
                continue_owed,
            });
        }
    }
    for why in [Hold::PipelineFull, Hold::OutputFull, Hold::Upgrade] {
        for peer_ended in [false, true] {
            all.push(Reading::Held { why, peer_ended });
        }
    }
    all
}

/// What one event returned, for the journal.
#[derive(Debug, PartialEq, Eq)]
enum Out {
    Flag(bool),
    Body(Option<u32>),
    Dropped(Dropped<u32>),
    Released(Option<bool>),
    Unit,
}

fn apply(r: &mut R, ev: Ev, now: Instant, next_body: &mut u32) -> Out {
    // What the codec adds to a body goes into the body being read.
    if let Some(body) = r.body_mut() {
        *body += 1000;
        *body -= 1000;
    }
    assert_eq!(r.body_mut().map(|b| *b), r.body().copied());
    match ev {
        Ev::HeadBytes => Out::Flag(r.head_bytes(now)),
        Ev::HeadParsed(close, body) => {
            let body = body.map(|c| {
                *next_body += 1;
                (*next_body, c)
            });
            r.head_parsed(close, body);
            Out::Unit
        }
        Ev::BodyDone => Out::Body(r.body_done()),
        Ev::TakeContinue => Out::Flag(r.take_continue()),
        Ev::Hold(why) => Out::Flag(r.hold(why)),
        Ev::Release(allow) => Out::Released(r.release(|_| allow)),
        Ev::PeerEnded => Out::Dropped(r.peer_ended()),
        Ev::Finish => Out::Body(r.finish()),
        Ev::WentIdle => {
            r.went_idle(now);
            Out::Unit
        }
    }
}

fn name(r: &R) -> &'static str {
    match r {
        Reading::Between { idle_since: None } => "Between(owed)",
        Reading::Between {
            idle_since: Some(_),
        } => "Between(idle)",
        Reading::Head { .. } => "Head",
        Reading::Body { last: false, .. } => "Body",
        Reading::Body { last: true, .. } => "Body(last)",
        Reading::Held {
            why: Hold::Upgrade, ..
        } => "Held(upgrade)",
        Reading::Held { .. } => "Held",
        Reading::Done => "Done",
    }
}

#[test]
fn table() {
    let now = Instant::now();
    let mut n = 0;
    // (from, event, to, what it returned)
    let rows: Vec<(R, Ev, &str, Out)> = vec![
        (R::new(now), Ev::HeadBytes, "Head", Out::Flag(true)),
        (
            Reading::Head { started: now },
            Ev::HeadBytes,
            "Head",
            Out::Flag(false),
        ),
        (Reading::Done, Ev::HeadBytes, "Done", Out::Flag(false)),
        (
            R::new(now),
            Ev::HeadParsed(false, None),
            "Between(owed)",
            Out::Unit,
        ),
        (R::new(now), Ev::HeadParsed(true, None), "Done", Out::Unit),
        (
            Reading::Head { started: now },
            Ev::HeadParsed(false, Some(false)),
            "Body",
            Out::Unit,
        ),
        (
            R::new(now),
            Ev::HeadParsed(true, Some(true)),
            "Body(last)",
            Out::Unit,
        ),
        (
            Reading::Done,
            Ev::HeadParsed(false, None),
            "Done",
            Out::Unit,
        ),
        (
            Reading::Held {
                why: Hold::PipelineFull,
                peer_ended: false,
            },
            Ev::HeadParsed(false, None),
            "Held",
            Out::Unit,
        ),
        (
            Reading::Body {
                body: 7,
                last: false,
                continue_owed: false,
            },
            Ev::BodyDone,
            "Between(owed)",
            Out::Body(Some(7)),
        ),
        (
            Reading::Body {
                body: 7,
                last: true,
                continue_owed: false,
            },
            Ev::BodyDone,
            "Done",
            Out::Body(Some(7)),
        ),
        (R::new(now), Ev::BodyDone, "Between(idle)", Out::Body(None)),
        (
            Reading::Body {
                body: 7,
                last: false,
                continue_owed: true,
            },
            Ev::TakeContinue,
            "Body",
            Out::Flag(true),
        ),
        (
            Reading::Body {
                body: 7,
                last: false,
                continue_owed: false,
            },
            Ev::TakeContinue,
            "Body",
            Out::Flag(false),
        ),
        (
            R::new(now),
            Ev::Hold(Hold::PipelineFull),
            "Held",
            Out::Flag(true),
        ),
        (
            Reading::Head { started: now },
            Ev::Hold(Hold::Upgrade),
            "Held(upgrade)",
            Out::Flag(true),
        ),
        (
            Reading::Body {
                body: 7,
                last: false,
                continue_owed: false,
            },
            Ev::Hold(Hold::PipelineFull),
            "Body",
            Out::Flag(false),
        ),
        (
            Reading::Done,
            Ev::Hold(Hold::Upgrade),
            "Done",
            Out::Flag(false),
        ),
        (
            Reading::Held {
                why: Hold::PipelineFull,
                peer_ended: false,
            },
            Ev::Hold(Hold::Upgrade),
            "Held(upgrade)",
            Out::Flag(false),
        ),
        (
            Reading::Held {
                why: Hold::Upgrade,
                peer_ended: false,
            },
            Ev::Hold(Hold::PipelineFull),
            "Held(upgrade)",
            Out::Flag(false),
        ),
        (
            Reading::Held {
                why: Hold::PipelineFull,
                peer_ended: false,
            },
            Ev::Release(true),
            "Between(owed)",
            Out::Released(Some(false)),
        ),
        (
            Reading::Held {
                why: Hold::PipelineFull,
                peer_ended: true,
            },
            Ev::Release(true),
            "Between(owed)",
            Out::Released(Some(true)),
        ),
        (
            Reading::Held {
                why: Hold::PipelineFull,
                peer_ended: false,
            },
            Ev::Release(false),
            "Held",
            Out::Released(None),
        ),
        (
            Reading::Held {
                why: Hold::Upgrade,
                peer_ended: false,
            },
            Ev::Release(true),
            "Held(upgrade)",
            Out::Released(None),
        ),
        (
            R::new(now),
            Ev::Release(true),
            "Between(idle)",
            Out::Released(None),
        ),
        (
            R::new(now),
            Ev::PeerEnded,
            "Done",
            Out::Dropped(Dropped::Nothing),
        ),
        (
            Reading::Head { started: now },
            Ev::PeerEnded,
            "Done",
            Out::Dropped(Dropped::Head),
        ),
        (
            Reading::Body {
                body: 7,
                last: false,
                continue_owed: false,
            },
            Ev::PeerEnded,
            "Done",
            Out::Dropped(Dropped::Body(7)),
        ),
        (
            Reading::Held {
                why: Hold::PipelineFull,
                peer_ended: false,
            },
            Ev::PeerEnded,
            "Held",
            Out::Dropped(Dropped::Nothing),
        ),
        (
            Reading::Body {
                body: 7,
                last: false,
                continue_owed: false,
            },
            Ev::Finish,
            "Done",
            Out::Body(Some(7)),
        ),
        (
            Reading::Held {
                why: Hold::Upgrade,
                peer_ended: false,
            },
            Ev::Finish,
            "Done",
            Out::Body(None),
        ),
        (
            Reading::Between { idle_since: None },
            Ev::WentIdle,
            "Between(idle)",
            Out::Unit,
        ),
        (
            Reading::Head { started: now },
            Ev::WentIdle,
            "Head",
            Out::Unit,
        ),
    ];
    for (mut from, ev, to, out) in rows {
        let before = name(&from);
        let got = apply(&mut from, ev, now, &mut n);
        assert_eq!((name(&from), &got), (to, &out), "{before} + {ev:?}");
    }
}

#[test]
fn peer_end_while_held_is_applied_after_release() {
    let now = Instant::now();
    let mut r = R::new(now);
    assert!(r.hold(Hold::PipelineFull));
    assert_eq!(r.peer_ended(), Dropped::Nothing);
    assert_eq!(r.release(|_| true), Some(true));
    // The stash is parsed here; then the codec applies the end.
    assert!(r.head_bytes(now));
    assert_eq!(r.peer_ended(), Dropped::Head);
    assert!(r.is_done());
}

#[test]
fn deadlines() {
    let t = Instant::now();
    let rx = t + Duration::from_secs(3);
    let d = |r: &R, served| r.deadline(HEADER, KEEP_ALIVE, served, rx);
    assert_eq!(d(&R::new(t), 0), Some(t + HEADER));
    assert_eq!(d(&R::new(t), 1), Some(t + KEEP_ALIVE));
    assert_eq!(d(&Reading::Head { started: t }, 5), Some(t + HEADER));
    let body = Reading::Body {
        body: 1,
        last: false,
        continue_owed: false,
    };
    assert_eq!(d(&body, 0), Some(rx + HEADER));
    for r in [
        Reading::Between { idle_since: None },
        Reading::Held {
            why: Hold::PipelineFull,
            peer_ended: false,
        },
        Reading::Done,
    ] {
        assert_eq!(d(&r, 0), None, "{}", name(&r));
    }
    // A timeout too long to represent saturates (net's duration rule), no panic.
    let far = R::new(t).deadline(Duration::MAX, Duration::MAX, 0, t);
    assert!(far.is_some_and(|d| d > t + Duration::from_secs(50 * 365 * 86_400)));
}

/// The rules the codec relies on, checked after each event.
fn check(before: &str, ev: Ev, after: &R, out: &Out, ended_while_held: bool) {
    let ctx = format!("{before} + {ev:?} -> {}: {out:?}", name(after));
    // Done is the end: nothing leads out of it.
    if before == "Done" {
        assert_eq!(name(after), "Done", "{ctx}");
    }
    // Only a release, a finish or the upgrade's own hold change a held state, and
    // an upgrade hold is never released.
    if before.starts_with("Held") {
        match ev {
            Ev::Release(true) if before == "Held" => {
                assert_eq!(name(after), "Between(owed)", "{ctx}")
            }
            Ev::Finish => assert_eq!(name(after), "Done", "{ctx}"),
            Ev::Hold(Hold::Upgrade) => assert_eq!(name(after), "Held(upgrade)", "{ctx}"),
            _ => assert_eq!(name(after), before, "{ctx}"),
        }
    }
    // A release reports exactly whether the peer ended during the pause.
    if let Out::Released(Some(ended)) = out {
        assert_eq!(*ended, ended_while_held, "{ctx}");
    }
    // Reading must stop exactly when a pause starts.
    if let (Ev::Hold(_), Out::Flag(stop)) = (ev, out) {
        assert_eq!(
            *stop,
            matches!(before, "Between(owed)" | "Between(idle)" | "Head"),
            "{ctx}"
        );
    }
    // The header timeout starts only on the first bytes of a head.
    if let (Ev::HeadBytes, Out::Flag(started)) = (ev, out) {
        assert_eq!(*started, before.starts_with("Between"), "{ctx}");
    }
    // Outside a pause, the peer's end is final.
    if matches!(ev, Ev::PeerEnded) && !before.starts_with("Held") {
        assert_eq!(name(after), "Done", "{ctx}");
    }
    // The questions the codec asks answer what the state is.
    let state = name(after);
    assert_eq!(after.is_held(), state.starts_with("Held"), "{ctx}");
    assert_eq!(after.is_done(), state == "Done", "{ctx}");
    assert_eq!(
        after.in_request(),
        matches!(state, "Head" | "Body" | "Body(last)"),
        "{ctx}"
    );
    assert_eq!(
        after.accepts_head(),
        state.starts_with("Between") || state == "Head",
        "{ctx}"
    );
    assert_eq!(after.body().is_some(), state.starts_with("Body"), "{ctx}");
    // A deadline runs exactly while the client owes us something.
    let t = Instant::now();
    let has_deadline = after.deadline(HEADER, KEEP_ALIVE, 0, t).is_some();
    let owes = matches!(
        name(after),
        "Head" | "Body" | "Body(last)" | "Between(idle)"
    );
    assert_eq!(has_deadline, owes, "{ctx}");
}

#[test]
fn every_event_in_every_state() {
    let now = Instant::now();
    for state in states(now) {
        for ev in EVENTS {
            let mut r = match &state {
                Reading::Between { idle_since } => Reading::Between {
                    idle_since: *idle_since,
                },
                Reading::Head { started } => Reading::Head { started: *started },
                Reading::Body {
                    body,
                    last,
                    continue_owed,
                } => Reading::Body {
                    body: *body,
                    last: *last,
                    continue_owed: *continue_owed,
                },
                Reading::Held { why, peer_ended } => Reading::Held {
                    why: *why,
                    peer_ended: *peer_ended,
                },
                Reading::Done => Reading::Done,
            };
            let ended_while_held = matches!(
                r,
                Reading::Held {
                    peer_ended: true,
                    ..
                }
            );
            let before = name(&r);
            let mut n = 100;
            let out = apply(&mut r, ev, now, &mut n);
            check(before, ev, &r, &out, ended_while_held);
        }
    }
}

proptest! {
    /// Random sequences: the journal's rules hold after every event, and every body
    /// handed to the machine comes back exactly once (or is still being read).
    #[test]
    fn sequences(events in proptest::collection::vec(proptest::sample::select(EVENTS.to_vec()), 0..40)) {
        let now = Instant::now();
        let mut r = R::new(now);
        let mut next_body = 0u32;
        let mut returned = Vec::new();
        let mut continues = Vec::new();
        let mut accepted = Vec::new();
        let mut ended_while_held = false;
        for ev in events {
            let before = name(&r);
            let body_before = r.body().copied();
            if matches!(ev, Ev::HeadParsed(_, Some(_))) && r.accepts_head() {
                accepted.push(next_body + 1);
            }
            let out = apply(&mut r, ev, now, &mut next_body);
            check(before, ev, &r, &out, ended_while_held);
            match (ev, &out) {
                (Ev::Hold(_), Out::Flag(true)) => ended_while_held = false,
                (Ev::PeerEnded, _) if before.starts_with("Held") => ended_while_held = true,
                _ => {}
            }
            match out {
                Out::Body(Some(b)) | Out::Dropped(Dropped::Body(b)) => returned.push(b),
                Out::Flag(true) if matches!(ev, Ev::TakeContinue) => {
                    let b = body_before.expect("a continue is owed only while reading a body");
                    prop_assert!(!continues.contains(&b), "two 100 Continue for body {}", b);
                    continues.push(b);
                }
                _ => {}
            }
        }
        let mut seen = returned.clone();
        if let Some(b) = r.body() {
            seen.push(*b);
        }
        seen.sort_unstable();
        // Each body the machine took comes back exactly once, or is still being read.
        prop_assert_eq!(seen, accepted);
    }
}
