//! Tells the code which OpenSSL it links: the session-ticket key callback
//! (`SSL_CTX_set_tlsext_ticket_key_evp_cb`) exists from OpenSSL 3.0 on.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(muon_ossl3)");
    // Exported by openssl-sys (a direct dependency) as hex, e.g. "30000130".
    if let Ok(v) = std::env::var("DEP_OPENSSL_VERSION_NUMBER") {
        if u64::from_str_radix(&v, 16).is_ok_and(|n| n >= 0x3000_0000) {
            println!("cargo::rustc-cfg=muon_ossl3");
        }
    }
}
