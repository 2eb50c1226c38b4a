//! The decisions of one lookup, apart from its sockets: which name to ask which
//! nameserver next, and when to give up with which error (resolv.conf(5) semantics).
//!
//! Names are tried in order (the search list, see `ResolverConfig::candidates`); each
//! name goes to the nameservers in turn, `attempts` rounds over them. No such name or
//! no data moves on to the next name; a timeout or a server error moves on to the
//! next nameserver. The first name with addresses wins.

use std::net::IpAddr;

use super::error::ResolveError;

/// What one exchange (A and AAAA for one name at one nameserver) came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    Found { addrs: Vec<IpAddr>, ttl: u32 },
    NxDomain,
    NoData,
    Failure(String),
    Timeout,
    Io(String),
}

/// What to do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Step {
    Ask { name: usize, server: usize },
    Done(Result<(Vec<IpAddr>, u32), ResolveError>),
}

/// One lookup's progress. See the module docs.
pub(crate) struct Machine {
    host: String,
    names: usize,
    servers: usize,
    attempts: u32,
    name: usize,
    tries: u32,
    saw_nodata: bool,
}

impl Machine {
    pub(crate) fn new(host: &str, names: usize, servers: usize, attempts: u32) -> Self {
        Machine {
            host: host.to_string(),
            names,
            servers: servers.max(1),
            attempts: attempts.max(1),
            name: 0,
            tries: 0,
            saw_nodata: false,
        }
    }

    pub(crate) fn start(&self) -> Step {
        if self.names == 0 {
            return Step::Done(Err(ResolveError::NoAddress {
                name: self.host.clone(),
            }));
        }
        Step::Ask { name: 0, server: 0 }
    }

    pub(crate) fn next(&mut self, outcome: Outcome) -> Step {
        let name = self.host.clone();
        match outcome {
            Outcome::Found { addrs, ttl } => Step::Done(Ok((addrs, ttl))),
            Outcome::NxDomain | Outcome::NoData => {
                self.saw_nodata |= outcome == Outcome::NoData;
                self.name += 1;
                self.tries = 0;
                if self.name < self.names {
                    Step::Ask {
                        name: self.name,
                        server: 0,
                    }
                } else if self.saw_nodata {
                    Step::Done(Err(ResolveError::NoAddress { name }))
                } else {
                    Step::Done(Err(ResolveError::NxDomain { name }))
                }
            }
            failed => {
                self.tries += 1;
                let total = self.servers as u32 * self.attempts;
                if self.tries < total {
                    return Step::Ask {
                        name: self.name,
                        server: self.tries as usize % self.servers,
                    };
                }
                Step::Done(Err(match failed {
                    Outcome::Failure(code) => ResolveError::ServerFailure { name, code },
                    Outcome::Io(error) => ResolveError::Io { name, error },
                    _ => ResolveError::Timeout {
                        name,
                        tries: total,
                        nameservers: self.servers,
                    },
                }))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ask(name: usize, server: usize) -> Step {
        Step::Ask { name, server }
    }

    #[test]
    fn timeouts_go_round_the_servers_then_give_up() {
        let mut m = Machine::new("h", 2, 2, 2);
        assert_eq!(m.start(), ask(0, 0));
        assert_eq!(m.next(Outcome::Timeout), ask(0, 1));
        assert_eq!(m.next(Outcome::Timeout), ask(0, 0));
        assert_eq!(m.next(Outcome::Failure("SERVFAIL".into())), ask(0, 1));
        assert_eq!(
            m.next(Outcome::Timeout),
            Step::Done(Err(ResolveError::Timeout {
                name: "h".into(),
                tries: 4,
                nameservers: 2
            }))
        );
    }

    #[test]
    fn missing_names_walk_the_search_list() {
        let mut m = Machine::new("h", 3, 2, 1);
        assert_eq!(m.next(Outcome::Timeout), ask(0, 1));
        assert_eq!(m.next(Outcome::NxDomain), ask(1, 0));
        assert_eq!(m.next(Outcome::NxDomain), ask(2, 0));
        assert_eq!(
            m.next(Outcome::NxDomain),
            Step::Done(Err(ResolveError::NxDomain { name: "h".into() }))
        );
        let mut m = Machine::new("h", 2, 1, 1);
        assert_eq!(m.next(Outcome::NoData), ask(1, 0));
        assert_eq!(
            m.next(Outcome::NxDomain),
            Step::Done(Err(ResolveError::NoAddress { name: "h".into() }))
        );
        let a = vec!["192.0.2.1".parse().unwrap()];
        let mut m = Machine::new("h", 2, 1, 1);
        assert_eq!(m.next(Outcome::NxDomain), ask(1, 0));
        assert_eq!(
            m.next(Outcome::Found {
                addrs: a.clone(),
                ttl: 5
            }),
            Step::Done(Ok((a, 5)))
        );
    }
}
