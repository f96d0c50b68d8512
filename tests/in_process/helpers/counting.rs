//! An upstream that counts exactly how many status requests are in flight at once, which
//! wiremock's delayed templates cannot, and when each repository was asked.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::answers::{status_body, UPDATED_AT};

/// A running counting upstream; see [`counting_upstream`].
pub struct CountingUpstream {
    pub endpoint: String,
    max_in_flight: Arc<AtomicUsize>,
    requests: Arc<AtomicUsize>,
    /// (arrival, repository id) of every request, in arrival order.
    pub arrivals: Arc<Mutex<Vec<(Instant, u32)>>>,
}

impl CountingUpstream {
    /// How many times each repository was asked.
    pub fn per_id(&self) -> HashMap<u32, usize> {
        let mut counts = HashMap::new();
        for (_, id) in self.arrivals.lock().unwrap().iter() {
            *counts.entry(*id).or_insert(0) += 1;
        }
        counts
    }

    /// How many status requests arrived.
    pub fn request_count(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    /// The most status requests that were in flight at once.
    pub fn most_in_flight(&self) -> usize {
        self.max_in_flight.load(Ordering::SeqCst)
    }
}

/// An upstream that answers every status request healthy after `delay`.
pub async fn counting_upstream(delay: Duration) -> CountingUpstream {
    let in_flight = Arc::new(AtomicUsize::new(0));
    let max_in_flight = Arc::new(AtomicUsize::new(0));
    let requests = Arc::new(AtomicUsize::new(0));
    let arrivals = Arc::new(Mutex::new(Vec::new()));
    let (now, max, count, log) = (
        in_flight.clone(),
        max_in_flight.clone(),
        requests.clone(),
        arrivals.clone(),
    );
    let handler = move |axum::extract::Path(id): axum::extract::Path<u32>| {
        let (now, max, count, log) = (now.clone(), max.clone(), count.clone(), log.clone());
        async move {
            count.fetch_add(1, Ordering::SeqCst);
            log.lock().unwrap().push((Instant::now(), id));
            let current = now.fetch_add(1, Ordering::SeqCst) + 1;
            max.fetch_max(current, Ordering::SeqCst);
            tokio::time::sleep(delay).await;
            now.fetch_sub(1, Ordering::SeqCst);
            axum::Json(status_body(true, 0, "finish", UPDATED_AT))
        }
    };
    let app = axum::Router::new().route(
        "/v4/repositories/{id}/repository/statistics-status",
        axum::routing::get(handler),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let endpoint = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    CountingUpstream {
        endpoint,
        max_in_flight,
        requests,
        arrivals,
    }
}
