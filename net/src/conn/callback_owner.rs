//! Who owns a builder's connection callbacks: the application, or a codec installed
//! over them (HTTP). A codec's callbacks replaced afterwards (or the application's
//! replaced by the codec) would leave connections that nobody answers, silently; the
//! builder records that here and `build()` refuses it with an error naming both.

use std::io;

/// The owner of a builder's connection callbacks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum CallbackOwner {
    /// The application sets them (the default).
    #[default]
    Application,
    /// A codec (named) set the callbacks in the set through `install_codec`.
    Codec(&'static str, CallbackSet),
    /// A codec and the application both set one: `build()` fails.
    Conflict {
        codec: &'static str,
        setter: &'static str,
        after: bool,
    },
}

impl CallbackOwner {
    /// The application set the callback `which`.
    pub(crate) fn set_by_application(&mut self, which: CallbackSet) {
        if let CallbackOwner::Codec(codec, owned) = *self {
            if let Some(setter) = owned.first_common(which) {
                *self = CallbackOwner::Conflict {
                    codec,
                    setter,
                    after: true,
                };
            }
        }
    }

    /// The codec `codec` set the callbacks `owned`; the application had set `earlier`.
    pub(crate) fn installed(
        &mut self,
        codec: &'static str,
        owned: CallbackSet,
        earlier: CallbackSet,
    ) {
        *self = match (*self, owned.first_common(earlier)) {
            (CallbackOwner::Conflict { .. }, _) => *self,
            (_, Some(setter)) => CallbackOwner::Conflict {
                codec,
                setter,
                after: false,
            },
            (CallbackOwner::Codec(_, more), None) => CallbackOwner::Codec(codec, owned.with(more)),
            (_, None) => CallbackOwner::Codec(codec, owned),
        };
    }

    /// The error `build()` returns, if the callbacks conflict.
    pub(crate) fn check(&self) -> io::Result<()> {
        match *self {
            CallbackOwner::Conflict {
                codec,
                setter,
                after,
            } => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "{setter} was called {} {codec}, which owns the connection callbacks: \
                     it would {} (use the codec's own hooks, or a separate server)",
                    if after { "after" } else { "before" },
                    if after {
                        "replace the codec's callback and leave its connections unanswered"
                    } else {
                        "be replaced by the codec's callback and never run"
                    }
                ),
            )),
            _ => Ok(()),
        }
    }
}

/// A set of the callbacks (one bit each, in the order of [`CallbackSet::NAMES`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct CallbackSet(u8);

impl CallbackSet {
    /// The setters' names, by bit.
    const NAMES: [&'static str; 6] = [
        "on_connection",
        "on_message",
        "on_write_complete",
        "on_high_water",
        "on_half_close",
        "on_drain",
    ];
    pub(crate) const CONNECTION: CallbackSet = CallbackSet(1);
    pub(crate) const MESSAGE: CallbackSet = CallbackSet(2);
    pub(crate) const WRITE_COMPLETE: CallbackSet = CallbackSet(4);
    pub(crate) const HIGH_WATER: CallbackSet = CallbackSet(8);
    pub(crate) const HALF_CLOSE: CallbackSet = CallbackSet(16);
    pub(crate) const DRAIN: CallbackSet = CallbackSet(32);

    /// Both sets.
    pub(crate) fn with(self, other: CallbackSet) -> CallbackSet {
        CallbackSet(self.0 | other.0)
    }

    /// The name of the first callback in both sets.
    fn first_common(self, other: CallbackSet) -> Option<&'static str> {
        let common = self.0 & other.0;
        (common != 0).then(|| Self::NAMES[common.trailing_zeros() as usize])
    }
}

#[cfg(test)]
mod tests {
    use super::{CallbackOwner, CallbackSet as S};

    const HTTP: &str = "HttpService::install";

    #[test]
    fn a_setter_after_a_codec_or_before_it_conflicts_and_stays_so() {
        let mut o = CallbackOwner::default();
        o.set_by_application(S::MESSAGE);
        assert!(o.check().is_ok(), "the application alone is fine");
        let owned = S::CONNECTION.with(S::MESSAGE).with(S::HALF_CLOSE);
        o.installed(HTTP, owned, S::HIGH_WATER);
        assert!(
            o.check().is_ok(),
            "a callback the codec leaves alone is fine"
        );
        o.set_by_application(S::HIGH_WATER);
        assert!(o.check().is_ok());
        o.set_by_application(S::CONNECTION);
        let e = o.check().unwrap_err().to_string();
        assert!(
            e.contains("on_connection was called after HttpService::install"),
            "{e}"
        );
        o.installed("Other", S::WRITE_COMPLETE, S::default());
        assert!(o.check().is_err(), "a conflict is never forgotten");
        let mut o = CallbackOwner::default();
        o.installed(HTTP, owned, S::HALF_CLOSE.with(S::HIGH_WATER));
        let e = o.check().unwrap_err().to_string();
        assert!(e.contains("on_half_close was called before"), "{e}");
    }
}
