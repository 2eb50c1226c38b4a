//! A slab of slots addressed by index, each with a generation so that a stale id
//! (one whose slot was freed and reused) never reaches the new occupant.
//!
//! Ownership: owned by one event loop; not shared.

/// An index into a [`Slab`] plus the generation of the occupant it was issued for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SlotId {
    pub(crate) index: u32,
    pub(crate) generation: u32,
}

enum Entry<T> {
    Occupied { generation: u32, value: T },
    Vacant { generation: u32, next_free: u32 },
}

const NONE: u32 = u32::MAX;

pub(crate) struct Slab<T> {
    entries: Vec<Entry<T>>,
    free_head: u32,
    len: usize,
}

impl<T> Slab<T> {
    pub(crate) fn new() -> Self {
        Slab {
            entries: Vec::new(),
            free_head: NONE,
            len: 0,
        }
    }

    /// One past the highest index ever used (for visiting every slot by index).
    pub(crate) fn index_bound(&self) -> usize {
        self.entries.len()
    }

    /// The id the next `insert` will return.
    pub(crate) fn next_id(&self) -> SlotId {
        match self.entries.get(self.free_head as usize) {
            Some(Entry::Vacant { generation, .. }) => SlotId {
                index: self.free_head,
                generation: *generation,
            },
            _ => SlotId {
                index: self.entries.len() as u32,
                generation: 0,
            },
        }
    }

    pub(crate) fn insert(&mut self, value: T) -> SlotId {
        let id = self.next_id();
        let index = id.index as usize;
        if index == self.entries.len() {
            self.entries.push(Entry::Occupied {
                generation: 0,
                value,
            });
        } else {
            if let Entry::Vacant { next_free, .. } = self.entries[index] {
                self.free_head = next_free;
            }
            self.entries[index] = Entry::Occupied {
                generation: id.generation,
                value,
            };
        }
        self.len += 1;
        id
    }

    pub(crate) fn get_mut(&mut self, id: SlotId) -> Option<&mut T> {
        match self.entries.get_mut(id.index as usize) {
            Some(Entry::Occupied { generation, value }) if *generation == id.generation => {
                Some(value)
            }
            _ => None,
        }
    }

    /// The occupant at `index` whatever its generation (events carry only the index).
    pub(crate) fn get_by_index_mut(&mut self, index: usize) -> Option<(SlotId, &mut T)> {
        match self.entries.get_mut(index) {
            Some(Entry::Occupied { generation, value }) => Some((
                SlotId {
                    index: index as u32,
                    generation: *generation,
                },
                value,
            )),
            _ => None,
        }
    }

    pub(crate) fn remove(&mut self, id: SlotId) -> Option<T> {
        let index = id.index as usize;
        match self.entries.get(index) {
            Some(Entry::Occupied { generation, .. }) if *generation == id.generation => {}
            _ => return None,
        }
        let vacant = Entry::Vacant {
            generation: id.generation.wrapping_add(1),
            next_free: self.free_head,
        };
        self.free_head = id.index;
        self.len -= 1;
        match std::mem::replace(&mut self.entries[index], vacant) {
            Entry::Occupied { value, .. } => Some(value),
            Entry::Vacant { .. } => None,
        }
    }

    /// Ids of every occupant, for visiting them while mutating the slab.
    pub(crate) fn ids(&self) -> Vec<SlotId> {
        self.entries
            .iter()
            .enumerate()
            .filter_map(|(i, e)| match e {
                Entry::Occupied { generation, .. } => Some(SlotId {
                    index: i as u32,
                    generation: *generation,
                }),
                Entry::Vacant { .. } => None,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_id_misses_reused_slot() {
        let mut s = Slab::new();
        let a = s.insert("a");
        assert_eq!(s.remove(a), Some("a"));
        let b = s.insert("b");
        assert_eq!(a.index, b.index);
        assert!(s.get_mut(a).is_none());
        assert_eq!(s.get_mut(b), Some(&mut "b"));
        assert!(s.remove(a).is_none());
        assert_eq!(s.len, 1);
    }
}
