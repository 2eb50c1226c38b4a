//! Session ticket keys shared by processes: two `echo` processes given the same nginx
//! key file resume each other's sessions (`openssl s_client -sess_out` / `-sess_in`),
//! over TLS 1.2 and 1.3; a process whose new key encrypts and whose old key only
//! decrypts still resumes old sessions; a process without the key does not.

mod common;

use common::tls::{cert, Provider, PROVIDERS};
use common::tls_tools::*;

fn key_file(dir: &TempDir, name: &str, len: usize, seed: u8) -> String {
    let path = dir.path(name);
    let bytes: Vec<u8> = (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect();
    std::fs::write(&path, bytes).unwrap();
    path
}

fn server(provider: Provider, keys: &[&str]) -> EchoProcess {
    let mut args = Vec::new();
    for k in keys {
        args.extend(["--ticket-keys", *k]);
    }
    args.extend(provider.flag());
    EchoProcess::start(&args)
}

/// Saves a new session from `first` to `sess`; returns whether `second` resumed it.
fn resumes(first: &EchoProcess, second: &EchoProcess, proto: &str, sess: &str) -> bool {
    let ca = cert("ca.crt");
    let common = [
        "-CAfile",
        &ca,
        "-verify_return_error",
        "-servername",
        "localhost",
        proto,
    ];
    let mut args = common.to_vec();
    args.extend(["-sess_out", sess]);
    let run = s_client(&first.addr, &args);
    assert!(
        run.echoed && run.out.contains("New, TLS"),
        "{proto}: {}",
        run.out
    );
    let mut args = common.to_vec();
    args.extend(["-sess_in", sess]);
    let run = s_client(&second.addr, &args);
    assert!(run.echoed, "{proto}: {}", run.out);
    run.out.contains("Reused, TLS")
}

#[test]
fn processes_with_the_same_key_file_resume_each_others_sessions() {
    for &provider in PROVIDERS {
        same_key_file_on(provider);
    }
}

fn same_key_file_on(provider: Provider) {
    let dir = TempDir::new(&format!("tickets-shared-{provider:?}"));
    for (len, tag) in [(80, "80"), (48, "48")] {
        let key = key_file(&dir, &format!("ticket{tag}.key"), len, 1);
        let (a, b) = (server(provider, &[&key]), server(provider, &[&key]));
        for proto in ["-tls1_2", "-tls1_3"] {
            let sess = dir.path(&format!("sess{tag}{proto}.pem"));
            assert!(
                resumes(&a, &b, proto, &sess),
                "{provider:?} {len}-byte key, {proto}: A -> B"
            );
            assert!(
                resumes(&b, &a, proto, &sess),
                "{provider:?} {len}-byte key, {proto}: B -> A"
            );
        }
    }
}

#[test]
fn an_old_key_kept_as_decrypt_only_still_resumes_and_a_missing_one_does_not() {
    for &provider in PROVIDERS {
        rotation_on(provider);
    }
}

fn rotation_on(provider: Provider) {
    let dir = TempDir::new(&format!("tickets-rotate-{provider:?}"));
    let old = key_file(&dir, "old.key", 80, 1);
    let new = key_file(&dir, "new.key", 80, 2);
    let before = server(provider, &[&old]);
    let rotated = server(provider, &[&new, &old]);
    let only_new = server(provider, &[&new]);
    let random = server(provider, &[]);
    for proto in ["-tls1_2", "-tls1_3"] {
        let sess = dir.path(&format!("sess{proto}.pem"));
        assert!(
            resumes(&before, &rotated, proto, &sess),
            "{provider:?} {proto}: old key decrypts"
        );
        assert!(
            !resumes(&before, &only_new, proto, &sess),
            "{provider:?} {proto}: no old key, no resumption"
        );
        assert!(
            !resumes(&before, &random, proto, &sess),
            "{provider:?} {proto}: random keys differ"
        );
        // The rotated process issues tickets under the new key: only_new resumes them.
        assert!(
            resumes(&rotated, &only_new, proto, &sess),
            "{provider:?} {proto}: new key encrypts"
        );
        assert!(
            !resumes(&rotated, &before, proto, &sess),
            "{provider:?} {proto}: not under the old key"
        );
    }
}

/// The session ticket s_client printed (hex dump lines after "TLS session ticket:").
fn ticket_dump(out: &str) -> String {
    out.lines()
        .skip_while(|l| !l.starts_with("    TLS session ticket:"))
        .skip(1)
        .take_while(|l| l.trim_start().starts_with(|c: char| c.is_ascii_hexdigit()))
        .collect::<Vec<_>>()
        .join("\n")
}

/// OpenSSL only: the renewal rule is net-ssl's ticket callback (rustls issues a new
/// ticket on every TLS 1.2 resumption anyway).
#[test]
fn tls12_tickets_under_a_decrypt_only_key_are_renewed_under_the_encrypting_key() {
    let dir = TempDir::new("tickets-renew");
    let old = key_file(&dir, "old.key", 80, 1);
    let new = key_file(&dir, "new.key", 80, 2);
    let (before, rotated) = (
        server(Provider::OpenSsl, &[&old]),
        server(Provider::OpenSsl, &[&new, &old]),
    );
    let sess = dir.path("sess.pem");
    let ca = cert("ca.crt");
    let base = ["-CAfile", &ca, "-servername", "localhost", "-tls1_2"];
    fn with<'a>(base: &[&'a str], extra: &[&'a str]) -> Vec<&'a str> {
        base.iter().chain(extra).copied().collect()
    }
    let first = s_client(&before.addr, &with(&base, &["-sess_out", &sess]));
    let issued = ticket_dump(&first.out);
    assert!(issued.len() > 100, "a ticket was issued: {}", first.out);
    // Resumed with the encrypting key: the callback answers 1, the ticket is kept.
    let same = s_client(&before.addr, &with(&base, &["-sess_in", &sess]));
    assert!(same.out.contains("Reused, TLSv1.2"), "{}", same.out);
    assert_eq!(
        ticket_dump(&same.out),
        issued,
        "no renewal under the encrypting key"
    );
    // Resumed with a decrypt-only key: the callback answers 2, a new ticket comes.
    let renewed = s_client(&rotated.addr, &with(&base, &["-sess_in", &sess]));
    assert!(renewed.out.contains("Reused, TLSv1.2"), "{}", renewed.out);
    let fresh = ticket_dump(&renewed.out);
    assert!(
        fresh.len() > 100 && fresh != issued,
        "renewed: {}",
        renewed.out
    );
}

#[test]
fn random_keys_resume_on_the_same_process() {
    for &provider in PROVIDERS {
        let dir = TempDir::new(&format!("tickets-random-{provider:?}"));
        let a = server(provider, &[]);
        for proto in ["-tls1_2", "-tls1_3"] {
            let sess = dir.path(&format!("sess{proto}.pem"));
            assert!(resumes(&a, &a, proto, &sess), "{provider:?} {proto}");
        }
    }
}

#[test]
fn sighup_replaces_the_ticket_keys_and_a_bad_key_file_changes_nothing() {
    for &provider in PROVIDERS {
        sighup_keys_on(provider);
    }
}

fn sighup_keys_on(provider: Provider) {
    let dir = TempDir::new(&format!("tickets-reload-{provider:?}"));
    let live = key_file(&dir, "live.key", 80, 1);
    let a = server(provider, &[&live]);
    let witness = server(provider, &[&live]);
    let sess = dir.path("sess.pem");
    assert!(
        resumes(&witness, &a, "-tls1_3", &sess),
        "same key before the reload"
    );

    // A bad file (wrong length) is rejected: the old key keeps decrypting.
    write_file(&live, &[9u8; 81]);
    a.sighup();
    let line = a.wait_for_log("TLS reload").expect("a reload log line");
    assert!(
        line.contains("rejected") && line.contains("81 bytes"),
        "{line}"
    );
    assert!(
        resumes(&witness, &a, "-tls1_3", &sess),
        "a bad reload changes nothing"
    );

    // A new key: the witness's tickets (old key) no longer resume on `a`.
    let fresh = key_file(&dir, "fresh.key", 80, 7);
    replace_file(&fresh, &live);
    a.sighup();
    let line = a.wait_for_log("TLS reload").expect("a reload log line");
    assert!(
        line.contains("changed:") && line.contains("live.key"),
        "{line}"
    );
    assert!(
        !resumes(&witness, &a, "-tls1_3", &sess),
        "the old key is gone"
    );
    let b = server(provider, &[&fresh]);
    assert!(
        resumes(&a, &b, "-tls1_3", &sess),
        "{provider:?}: the new key encrypts"
    );
}
