//! Durability of the embedded table and queue: a child process writes to both
//! and reports each acknowledged write; it is killed with SIGKILL mid-stream;
//! on reopen every acknowledged write must be there.
//!
//! The same binary is parent and child (`NOCODE_DURABILITY_CHILD` selects the
//! child), so no extra binary has to be built.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::json;
use shared::adapters::embedded::{EmbeddedQueue, EmbeddedTable};
use shared::ports::queue::{OutgoingMessage, Queue};
use shared::ports::table::{ItemTable, Key};

const CHILD: &str = "NOCODE_DURABILITY_CHILD";
const QUEUE: &str = "workflow-runs";
const ROUNDS: usize = 3;

fn main() {
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    match std::env::var(CHILD) {
        Ok(spec) => runtime.block_on(child(&spec)),
        Err(_) => {
            let dir = tempfile::tempdir().expect("temporary data folder");
            for round in 0..ROUNDS {
                runtime.block_on(kill_mid_stream_then_check(dir.path(), round));
            }
            println!("durability: {ROUNDS} passed, 0 failed");
        }
    }
}

/// Writes item n then message n, forever, printing `ack n` after both.
async fn child(spec: &str) {
    let (dir, round) = spec.rsplit_once('|').expect("dir|round");
    let table = EmbeddedTable::open(Path::new(dir)).expect("open table");
    let queue = EmbeddedQueue::open(Path::new(dir)).expect("open queue");
    let mut out = std::io::stdout().lock();
    for n in 0u64.. {
        let item = json!({"pk": format!("ROUND#{round}"), "sk": format!("{n:08}"), "n": n});
        table
            .put(item.as_object().cloned().expect("object"), None)
            .await
            .expect("put");
        queue
            .send(QUEUE, OutgoingMessage::new(format!("{round}:{n}")))
            .await
            .expect("send");
        writeln!(out, "ack {n}").expect("report");
        out.flush().expect("flush");
    }
}

async fn kill_mid_stream_then_check(dir: &Path, round: usize) {
    let exe = std::env::current_exe().expect("own path");
    let mut child = Command::new(exe)
        .env(CHILD, format!("{}|{round}", dir.display()))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn child");
    let stdout = child.stdout.take().expect("child stdout");
    // Kill at a different point each round.
    let kill_after = 40 + 17 * round as u64;
    let mut last_ack = None;
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("read child");
        let n: u64 = line
            .strip_prefix("ack ")
            .and_then(|n| n.parse().ok())
            .expect("an ack line");
        last_ack = Some(n);
        if n >= kill_after {
            // `kill` is SIGKILL on Unix: no destructor, no flush, no goodbye.
            child.kill().expect("SIGKILL the child");
            break;
        }
    }
    let status = child.wait().expect("reap child");
    assert!(!status.success(), "the child was killed, not finished");
    let last_ack = last_ack.expect("the child acknowledged writes");

    let table = EmbeddedTable::open(dir).expect("reopen table");
    for n in 0..=last_ack {
        let key = Key::new(format!("ROUND#{round}"), format!("{n:08}"));
        let item = table.get(&key).await.expect("get");
        assert!(item.is_some(), "round {round}: acknowledged item {n} lost");
    }
    drop(table);

    let queue = EmbeddedQueue::open(dir).expect("reopen queue");
    let mut bodies = BTreeSet::new();
    loop {
        let got = queue
            .receive(QUEUE, 10, Duration::from_secs(600), Duration::ZERO)
            .await
            .expect("receive");
        if got.is_empty() {
            break;
        }
        for m in got {
            queue.delete(QUEUE, &m.receipt).await.expect("delete");
            bodies.insert(m.body);
        }
    }
    for n in 0..=last_ack {
        assert!(
            bodies.contains(&format!("{round}:{n}")),
            "round {round}: acknowledged message {n} lost"
        );
    }
    println!("round {round}: killed after ack {last_ack}; all acknowledged writes survived");
}
