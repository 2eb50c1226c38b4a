//! `Extensions`: typed per-connection state, one value per type.
//!
//! A codec keeps its decoder state and the application its session on the same
//! connection without competing for one slot (in the spirit of `http::Extensions`).
//! Values are found by type with a linear scan: a connection holds a handful at most,
//! and an empty map allocates nothing.

use std::any::{Any, TypeId};

/// Values attached to a connection, at most one of each type.
///
/// ```
/// let mut ext = net::Extensions::default();
/// struct Session { user: String }
/// ext.insert(Session { user: "ada".into() });
/// ext.insert(42u32);
/// assert_eq!(ext.get::<Session>().map(|s| s.user.as_str()), Some("ada"));
/// *ext.get_mut::<u32>().unwrap() += 1;
/// assert_eq!(ext.remove::<u32>(), Some(43));
/// assert!(ext.get::<u32>().is_none());
/// ```
#[derive(Default)]
pub struct Extensions {
    // Boxed on purpose: a connection without extensions (most of them) pays one
    // pointer, 8 bytes, instead of an empty Vec's 24; tens of thousands of idle
    // connections notice.
    #[allow(clippy::box_collection)]
    items: Option<Box<Vec<Box<dyn Any>>>>,
}

impl Extensions {
    /// Attaches `value`, returning the value of the same type it replaces.
    pub fn insert<T: Any>(&mut self, value: T) -> Option<T> {
        let old = self.remove::<T>();
        self.items
            .get_or_insert_with(Box::default)
            .push(Box::new(value));
        old
    }

    /// The value of type `T`, if any.
    pub fn get<T: Any>(&self) -> Option<&T> {
        self.slice().iter().find_map(|b| b.downcast_ref::<T>())
    }

    /// The value of type `T`, mutable, if any.
    pub fn get_mut<T: Any>(&mut self) -> Option<&mut T> {
        self.items
            .as_mut()?
            .iter_mut()
            .find_map(|b| b.downcast_mut::<T>())
    }

    /// The value of type `T`, inserted with `make` first if there is none.
    pub fn get_or_insert_with<T: Any>(&mut self, make: impl FnOnce() -> T) -> &mut T {
        let at = self.position::<T>();
        let items = self.items.get_or_insert_with(Box::default);
        let at = match at {
            Some(at) => at,
            None => {
                items.push(Box::new(make()));
                items.len() - 1
            }
        };
        match items[at].downcast_mut::<T>() {
            Some(value) => value,
            None => unreachable!("the slot at {at} holds a {}", std::any::type_name::<T>()),
        }
    }

    /// Takes the value of type `T` out.
    pub fn remove<T: Any>(&mut self) -> Option<T> {
        let at = self.position::<T>()?;
        let items = self.items.as_mut()?;
        items.swap_remove(at).downcast::<T>().ok().map(|b| *b)
    }

    /// How many values are attached.
    pub fn len(&self) -> usize {
        self.slice().len()
    }

    /// Whether no value is attached.
    pub fn is_empty(&self) -> bool {
        self.slice().is_empty()
    }

    fn slice(&self) -> &[Box<dyn Any>] {
        self.items.as_deref().map(Vec::as_slice).unwrap_or_default()
    }

    fn position<T: Any>(&self) -> Option<usize> {
        let id = TypeId::of::<T>();
        self.slice().iter().position(|b| (**b).type_id() == id)
    }
}

impl std::fmt::Debug for Extensions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Extensions({} values)", self.len())
    }
}
