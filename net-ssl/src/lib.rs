//! Muon's TLS layer.
