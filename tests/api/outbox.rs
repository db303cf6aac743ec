//! The outbox: a change commits with its events while the bus is down; once
//! the bus is back every event is published, and what it causes downstream
//! (the insights counter) happens exactly once, even when the publisher
//! publishes it twice.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use nocode_tests::eventually;
use reqwest::{Method, StatusCode};
use shared::ports::events::{DomainEvent, EventBus, EventError, EventResult};

use crate::helpers::TestApp;

/// What the bus in front of the real one does with the next publish.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Mode {
    /// Refuses it: the bus is unreachable.
    Down,
    /// Passes it on, then answers an error, as when the answer is lost.
    LosesTheAnswer,
    /// Passes it on.
    Up,
}

struct FlakyBus {
    real: Mutex<Option<Arc<dyn EventBus>>>,
    mode: Mutex<Mode>,
    refused: Mutex<usize>,
    delivered: Mutex<Vec<String>>,
}

impl FlakyBus {
    fn down() -> Arc<Self> {
        Arc::new(Self {
            real: Mutex::new(None),
            mode: Mutex::new(Mode::Down),
            refused: Mutex::new(0),
            delivered: Mutex::new(Vec::new()),
        })
    }

    fn set(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }

    fn refused(&self) -> usize {
        *self.refused.lock().unwrap()
    }

    /// How many times the event of this type was handed to the real bus.
    fn deliveries(&self, detail_type: &str) -> usize {
        self.delivered
            .lock()
            .unwrap()
            .iter()
            .filter(|t| *t == detail_type)
            .count()
    }
}

/// The bus the gateway's workers get: the test keeps the other handle.
struct Shared(Arc<FlakyBus>);

#[async_trait]
impl EventBus for Shared {
    async fn probe(&self) -> Result<(), String> {
        Ok(())
    }

    async fn publish(&self, events: &[DomainEvent]) -> EventResult<()> {
        self.0.publish(events).await
    }
}

impl FlakyBus {
    async fn publish(&self, events: &[DomainEvent]) -> EventResult<()> {
        let mode = *self.mode.lock().unwrap();
        if mode == Mode::Down {
            *self.refused.lock().unwrap() += 1;
            return Err(EventError::Backend("the bus is down".into()));
        }
        let real = self.real.lock().unwrap().clone().expect("the real bus");
        real.publish(events).await?;
        self.delivered
            .lock()
            .unwrap()
            .extend(events.iter().map(|e| e.detail_type.clone()));
        if mode == Mode::LosesTheAnswer {
            self.set(Mode::Up);
            return Err(EventError::Backend("the answer was lost".into()));
        }
        Ok(())
    }
}

fn wrapper(bus: &Arc<FlakyBus>) -> nocode::gateway::BusWrapper {
    let bus = Arc::clone(bus);
    Box::new(move |real| {
        *bus.real.lock().unwrap() = Some(real);
        Arc::new(Shared(bus))
    })
}

async fn counted(app: &TestApp, org: &str, detail_type: &str) -> i64 {
    let day = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let table = app.services.table().expect("table");
    crate::helpers::counted(table, org, &day, detail_type)
        .await
        .and_then(|count| i64::try_from(count).ok())
        .unwrap_or(0)
}

async fn an_event_committed_while_the_bus_is_down_is_delivered_once_it_is_back(
    app: TestApp,
    bus: Arc<FlakyBus>,
) {
    let owner = app.signed_up_user().await;
    let org = app.organization(&owner, "Acme").await;
    let (status, _) = app
        .json(
            Method::GET,
            &format!("/api/v1/foundation/organizations/{org}"),
            None,
            Some(&owner.access),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "the change committed");

    // The publisher keeps trying and nothing reaches insights meanwhile.
    let tried = eventually(Duration::from_secs(10), || async {
        (bus.refused() >= 3).then_some(())
    })
    .await;
    assert!(
        tried.is_some(),
        "the publisher retries while the bus is down"
    );
    assert_eq!(counted(&app, &org, "organization.created").await, 0);

    // Back up, but the first answer is lost: the publisher publishes again.
    bus.set(Mode::LosesTheAnswer);
    let counted_once = eventually(Duration::from_secs(20), || async {
        (bus.deliveries("organization.created") == 2
            && counted(&app, &org, "organization.created").await == 1
            && counted(&app, &org, "member.added").await == 1)
            .then_some(())
    })
    .await;
    assert!(
        counted_once.is_some(),
        "the events reached the bus twice and were counted once ({} deliveries)",
        bus.deliveries("organization.created")
    );
    // Long enough for the second delivery to be consumed too.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(counted(&app, &org, "organization.created").await, 1);
    assert_eq!(counted(&app, &org, "member.added").await, 1);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_an_event_committed_while_the_bus_is_down_is_delivered_once_it_is_back() {
    let bus = FlakyBus::down();
    let app = TestApp::embedded_with_bus(wrapper(&bus)).await;
    an_event_committed_while_the_bus_is_down_is_delivered_once_it_is_back(app, bus).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moto_an_event_committed_while_the_bus_is_down_is_delivered_once_it_is_back() {
    let bus = FlakyBus::down();
    let app = TestApp::aws_with_bus(wrapper(&bus)).await;
    an_event_committed_while_the_bus_is_down_is_delivered_once_it_is_back(app, bus).await;
}
