//! Routing cost as the route table grows: `RouteIndex::lookup`, which the proxy calls through
//! `Config::route_for`, over 1, 100 and 10,000 routes, for a path that matches the last route written
//! and for one that matches none (the scan the index replaced tried every route for it, both ways).
//! Issue 17 asks 10,000 routes to cost within 5% of one.
//!
//! `cargo bench --bench routing`

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};

use hookguard::routing::{PathPattern, RouteIndex};

/// `count` exact routes `/hooks/provider-<n>/events`, plus one prefix route at the end.
fn table(count: usize) -> Vec<PathPattern> {
    let mut routes: Vec<PathPattern> = (1..count)
        .map(|n| PathPattern::parse(&format!("/hooks/provider-{n}/events")).expect("pattern"))
        .collect();
    routes.push(PathPattern::parse("/hooks/last/*").expect("pattern"));
    routes
}

fn routing(c: &mut Criterion) {
    let mut group = c.benchmark_group("routing");
    for count in [1, 100, 10_000] {
        let routes = table(count);
        let index = RouteIndex::build(&routes, |p| p);
        for (case, path) in [("last", "/hooks/last/delivery"), ("none", "/elsewhere/x")] {
            group.bench_with_input(BenchmarkId::new(case, count), &routes, |b, routes| {
                b.iter(|| {
                    black_box(&index)
                        .lookup(black_box(routes), |p| p, black_box(path))
                        .expect("canonical")
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, routing);
criterion_main!(benches);
