//! Session ticket keys shared by processes: two `echo` processes given the same nginx
//! key file resume each other's sessions (`openssl s_client -sess_out` / `-sess_in`),
//! over TLS 1.2 and 1.3; a process whose new key encrypts and whose old key only
//! decrypts still resumes old sessions; a process without the key does not.

mod common;

use common::tls::cert;
use common::tls_tools::*;

fn key_file(dir: &TempDir, name: &str, len: usize, seed: u8) -> String {
    let path = dir.path(name);
    let bytes: Vec<u8> = (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect();
    std::fs::write(&path, bytes).unwrap();
    path
}

fn server(keys: &[&str]) -> EchoProcess {
    let mut args = Vec::new();
    for k in keys {
        args.extend(["--ticket-keys", *k]);
    }
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
    let dir = TempDir::new("tickets-shared");
    for (len, tag) in [(80, "80"), (48, "48")] {
        let key = key_file(&dir, &format!("ticket{tag}.key"), len, 1);
        let (a, b) = (server(&[&key]), server(&[&key]));
        for proto in ["-tls1_2", "-tls1_3"] {
            let sess = dir.path(&format!("sess{tag}{proto}.pem"));
            assert!(
                resumes(&a, &b, proto, &sess),
                "{len}-byte key, {proto}: A -> B"
            );
            assert!(
                resumes(&b, &a, proto, &sess),
                "{len}-byte key, {proto}: B -> A"
            );
        }
    }
}

#[test]
fn an_old_key_kept_as_decrypt_only_still_resumes_and_a_missing_one_does_not() {
    let dir = TempDir::new("tickets-rotate");
    let old = key_file(&dir, "old.key", 80, 1);
    let new = key_file(&dir, "new.key", 80, 2);
    let before = server(&[&old]);
    let rotated = server(&[&new, &old]);
    let only_new = server(&[&new]);
    let random = server(&[]);
    for proto in ["-tls1_2", "-tls1_3"] {
        let sess = dir.path(&format!("sess{proto}.pem"));
        assert!(
            resumes(&before, &rotated, proto, &sess),
            "{proto}: old key decrypts"
        );
        assert!(
            !resumes(&before, &only_new, proto, &sess),
            "{proto}: no old key, no resumption"
        );
        assert!(
            !resumes(&before, &random, proto, &sess),
            "{proto}: random keys differ"
        );
        // The rotated process issues tickets under the new key: only_new resumes them.
        assert!(
            resumes(&rotated, &only_new, proto, &sess),
            "{proto}: new key encrypts"
        );
        assert!(
            !resumes(&rotated, &before, proto, &sess),
            "{proto}: not under the old key"
        );
    }
}

#[test]
fn random_keys_resume_on_the_same_process() {
    let dir = TempDir::new("tickets-random");
    let a = server(&[]);
    for proto in ["-tls1_2", "-tls1_3"] {
        let sess = dir.path(&format!("sess{proto}.pem"));
        assert!(resumes(&a, &a, proto, &sess), "{proto}");
    }
}
