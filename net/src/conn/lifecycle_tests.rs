//! The lifecycle on its own: the transition table, every event in every reachable
//! state, and random event sequences against the callback invariants.

use super::*;
use proptest::prelude::*;

const EVENTS: [Event; 12] = [
    Event::HandshakeDone,
    Event::PeerClosed,
    Event::Shutdown,
    Event::OutputDrained,
    Event::Close(CloseCause::Forced),
    Event::Close(CloseCause::IdleTimeout),
    Event::Stop,
    Event::Failed,
    Event::Pause(PauseBy::App),
    Event::Pause(PauseBy::HighWater),
    Event::Resume(PauseBy::App),
    Event::Resume(PauseBy::HighWater),
];

fn up(has_layer: bool, half_close: bool) -> Lifecycle {
    let mut life = Lifecycle::new(has_layer, half_close);
    assert_eq!(life.apply(Event::HandshakeDone), Effects::CONNECTED);
    life
}

/// What a journal of effects must satisfy after any sequence of events.
#[derive(Default)]
struct Journal {
    has_layer: bool,
    ups: usize,
    releases: usize,
    half_closes: usize,
    close_layers: usize,
    shut: bool,
    peer_closed: bool,
    /// The application asked to shut our side (or the peer's EOF did it for us).
    we_close: bool,
    close_timer_armed: bool,
    any_after_release: bool,
}

impl Journal {
    fn new(has_layer: bool) -> Journal {
        Journal {
            has_layer,
            ..Journal::default()
        }
    }

    fn record(&mut self, life: &Lifecycle, event: Event, effects: Effects) {
        if self.releases > 0 && effects != Effects::NONE {
            self.any_after_release = true;
        }
        if event == Event::PeerClosed {
            self.peer_closed = true;
        }
        if effects.contains(Effects::CONNECTED) {
            self.ups += 1;
        }
        if effects.contains(Effects::HALF_CLOSE) {
            assert!(
                self.peer_closed,
                "half-close callback before the peer closed"
            );
            // Once our side is closing, the application has nothing to reply with.
            assert!(!self.we_close, "half-close callback while our side closes");
            self.half_closes += 1;
        }
        if event == Event::Shutdown && life.was_connected() {
            self.we_close = true;
        }
        if effects.contains(Effects::CLOSE_LAYER) {
            assert!(self.has_layer, "CLOSE_LAYER without a layer");
            assert!(!self.shut, "CLOSE_LAYER after SHUT_WRITE");
            self.close_layers += 1;
        }
        for e in [Effects::SHUT_WRITE, Effects::CLOSE_LAYER] {
            if effects.contains(e) {
                // The connection reports OutputDrained only with an empty output
                // buffer: shutting on any other event could cut pending output.
                assert_eq!(event, Event::OutputDrained, "{e:?} on {event:?}");
            }
        }
        if effects.contains(Effects::SHUT_WRITE) {
            // A layer's peer tells a clean close from a truncation by its message:
            // shutting without it makes every orderly TLS close look like an attack.
            assert!(
                !self.has_layer || self.close_layers == 1,
                "SHUT_WRITE with a layer before its CLOSE_LAYER"
            );
            assert!(!self.shut, "SHUT_WRITE twice");
            self.shut = true;
        }
        if effects.contains(Effects::ARM_CLOSE_TIMER) {
            self.close_timer_armed = true;
        }
        // A half-closed peer that never reads must not hold the connection for ever:
        // while it has closed and we still flush, the close timer bounds the wait.
        if self.peer_closed && life.was_connected() && !life.is_closed() {
            assert!(
                self.close_timer_armed,
                "peer closed, our side still flushing, no close timer"
            );
        }
        if effects.contains(Effects::RELEASE) {
            self.releases += 1;
        }
        assert_eq!(life.is_closed(), self.releases > 0, "closed iff released");
        if effects.contains(Effects::RELEASE) {
            assert!(life.is_closed() && !life.delivers());
            assert_eq!(life.was_connected(), self.ups == 1, "down owed iff up ran");
            let orderly = !matches!(event, Event::Close(_) | Event::Stop | Event::Failed);
            if orderly && life.was_connected() {
                assert!(
                    self.shut && self.peer_closed,
                    "orderly close before both sides ended"
                );
            }
        }
    }

    fn check(&self) {
        assert!(self.ups <= 1, "up {} times", self.ups);
        assert!(self.releases <= 1, "released {} times", self.releases);
        assert!(
            self.half_closes <= 1,
            "half-close {} times",
            self.half_closes
        );
        assert!(!self.any_after_release, "an effect after release");
        assert!(
            self.close_layers <= 1,
            "CLOSE_LAYER {} times (a second close_notify)",
            self.close_layers
        );
    }
}

/// The effects are a set of distinct flags: each one bit, none shared, and `with` a
/// union (the connection code tests each flag on its own with `contains`).
#[test]
fn effects_are_distinct_flags_and_with_is_a_union() {
    let all = [
        Effects::CONNECTED,
        Effects::HALF_CLOSE,
        Effects::ARM_CLOSE_TIMER,
        Effects::CLOSE_LAYER,
        Effects::SHUT_WRITE,
        Effects::RELEASE,
        Effects::RESUME_READ,
    ];
    for (i, a) in all.iter().enumerate() {
        assert_eq!(a.0.count_ones(), 1, "{a:?} is not one flag");
        assert!(!Effects::NONE.contains(*a));
        assert_eq!(a.with(*a), *a, "a union with itself changes nothing");
        for b in &all[i + 1..] {
            assert_ne!(a, b);
            let both = a.with(*b);
            assert!(both.contains(*a) && both.contains(*b) && both.contains(both));
            assert!(!a.contains(both));
        }
    }
}

#[test]
fn table_from_handshaking() {
    for event in [
        Event::PeerClosed,
        Event::Shutdown,
        Event::Close(CloseCause::Forced),
        Event::Failed,
    ] {
        let mut life = Lifecycle::new(true, false);
        assert_eq!(life.apply(event), Effects::RELEASE, "{event:?}");
        assert!(
            !life.was_connected(),
            "no down owed for a connection never up"
        );
    }
    let mut life = Lifecycle::new(true, false);
    assert!(!life.is_closed() && !life.peer_closed() && !life.is_paused() && life.reads());
    assert_eq!(life.apply(Event::OutputDrained), Effects::NONE);
    assert!(
        life.accepts_sends(),
        "sends during the handshake are kept by the layer"
    );
    assert!(!life.delivers());
    assert_eq!(life.apply(Event::HandshakeDone), Effects::CONNECTED);
    assert!(life.delivers());
}

#[test]
fn orderly_shutdown_with_a_layer_notifies_then_shuts() {
    let mut life = up(true, false);
    assert_eq!(life.apply(Event::Shutdown), Effects::NONE);
    assert!(!life.accepts_sends());
    assert_eq!(life.write_side(), WriteSide::Flushing);
    assert_eq!(life.apply(Event::OutputDrained), Effects::CLOSE_LAYER);
    let shut = life.apply(Event::OutputDrained);
    assert!(shut.contains(Effects::SHUT_WRITE) && shut.contains(Effects::ARM_CLOSE_TIMER));
    assert!(
        !shut.contains(Effects::RELEASE),
        "still reading until the peer's EOF"
    );
    assert!(life.reads());
    assert_eq!(life.apply(Event::PeerClosed), Effects::RELEASE);
    assert!(life.was_connected());
}

#[test]
fn peer_half_close_without_a_callback_shuts_after_flushing() {
    let mut life = up(false, false);
    assert_eq!(life.apply(Event::PeerClosed), Effects::ARM_CLOSE_TIMER);
    assert!(life.peer_closed() && !life.reads());
    assert_eq!(life.write_side(), WriteSide::Flushing);
    let last = life.apply(Event::OutputDrained);
    assert!(last.contains(Effects::SHUT_WRITE) && last.contains(Effects::RELEASE));
}

#[test]
fn peer_half_close_with_a_callback_lets_the_application_reply() {
    let mut life = up(false, true);
    let effects = life.apply(Event::PeerClosed);
    assert!(effects.contains(Effects::HALF_CLOSE) && effects.contains(Effects::ARM_CLOSE_TIMER));
    assert!(life.accepts_sends(), "the application may still reply");
    assert_eq!(life.apply(Event::OutputDrained), Effects::NONE);
    assert_eq!(life.apply(Event::Shutdown), Effects::NONE);
    assert!(life.apply(Event::OutputDrained).contains(Effects::RELEASE));
}

#[test]
fn pauses_stack_and_resume_reads_once_both_lift() {
    let mut life = up(false, false);
    life.apply(Event::Pause(PauseBy::App));
    life.apply(Event::Pause(PauseBy::HighWater));
    assert!(life.is_paused() && life.paused_by_high_water() && !life.reads());
    assert_eq!(life.apply(Event::Resume(PauseBy::HighWater)), Effects::NONE);
    assert!(!life.paused_by_high_water() && life.is_paused());
    assert_eq!(
        life.apply(Event::Resume(PauseBy::App)),
        Effects::RESUME_READ
    );
    assert!(life.reads() && !life.is_paused());
    assert_eq!(life.apply(Event::Resume(PauseBy::App)), Effects::NONE);
}

#[test]
fn closed_ignores_everything() {
    let mut life = up(true, true);
    assert_eq!(life.apply(Event::Failed), Effects::RELEASE);
    for event in EVENTS {
        assert_eq!(life.apply(event), Effects::NONE, "{event:?}");
    }
    assert!(!life.accepts_sends() && !life.reads() && !life.delivers());
}

/// Every event applied to every state reachable from the start (both configurations
/// of layer and half-close handling) keeps the journal's invariants.
#[test]
fn every_event_in_every_reachable_state() {
    for has_layer in [false, true] {
        for half_close in [false, true] {
            // Breadth-first over event paths; states are few, so paths of length 5
            // reach all of them (and the table is small enough to run in full).
            let mut frontier = vec![Vec::<Event>::new()];
            for _ in 0..5 {
                let mut next = Vec::new();
                for path in &frontier {
                    for event in EVENTS {
                        let mut path = path.clone();
                        path.push(event);
                        run(has_layer, half_close, &path);
                        next.push(path);
                    }
                }
                frontier = next;
            }
        }
    }
}

fn run(has_layer: bool, half_close: bool, events: &[Event]) {
    let mut life = Lifecycle::new(has_layer, half_close);
    let mut journal = Journal::new(has_layer);
    for &event in events {
        let effects = life.apply(event);
        journal.record(&life, event, effects);
    }
    journal.check();
}

fn any_event() -> impl Strategy<Value = Event> {
    proptest::sample::select(EVENTS.to_vec())
}

proptest! {
    #[test]
    fn random_sequences_keep_the_callback_rules(
        has_layer: bool,
        half_close: bool,
        events in proptest::collection::vec(any_event(), 0..40),
    ) {
        run(has_layer, half_close, &events);
    }
}

/// The close cause travels with the events: the first one wins, except that an error
/// or a timeout overrides an orderly one, `Close(Forced)` does not, and the server's
/// `Stop` does (the orderly close did not finish).
#[test]
fn close_causes() {
    use CloseCause::*;
    let cases: &[(&[Event], CloseCause)] = &[
        (
            &[Event::Shutdown, Event::PeerClosed, Event::Close(Forced)],
            Shutdown,
        ),
        (&[Event::PeerClosed, Event::Shutdown, Event::Failed], Error),
        (
            &[Event::Shutdown, Event::Close(CloseDelayTimeout)],
            CloseDelayTimeout,
        ),
        (&[Event::PeerClosed, Event::Stop], Forced),
        (&[Event::Close(IdleTimeout), Event::Stop], IdleTimeout),
        (&[Event::Failed, Event::Close(IdleTimeout)], Error),
        (&[Event::Close(HandshakeTimeout)], HandshakeTimeout),
        (&[Event::Pause(PauseBy::App), Event::OutputDrained], Forced),
    ];
    for (events, want) in cases {
        let mut life = up(false, true);
        for e in *events {
            life.apply(*e);
        }
        if !life.is_closed() {
            life.apply(Event::Close(Forced));
        }
        assert_eq!(life.close_cause(), *want, "{events:?}");
    }
    // Before it is connected: the peer's end is still the cause, a shutdown is not.
    let mut life = Lifecycle::new(true, false);
    life.apply(Event::PeerClosed);
    assert_eq!(life.close_cause(), PeerEof);
    let mut life = Lifecycle::new(true, false);
    life.apply(Event::Shutdown);
    assert_eq!(life.close_cause(), Forced);
}
