//! The clients' side of the event loop: starting an operation (history invoke, the
//! request to the primary and f others, retransmission and timeout timers), sending
//! requests through the network, and taking replies until f+1 match.

use crate::sim::{ms, Event, Phase, Simulation};
use crate::trace::{client_code, replica_code};
use bytes::Bytes;
use checker::oracles::ExecutedRequest;
use nemesis::Link;

impl Simulation {
    pub(crate) fn deliver_reply(&mut self, from: usize, client: usize, body: &Bytes) {
        self.trace.record(
            self.now,
            replica_code(from),
            client_code(client),
            "reply",
            body,
        );
        let process = self.clients[client].process;
        if let Some((inv, c)) = self.clients[client].on_reply(body) {
            self.history.complete(process, &inv, c, self.now);
            self.after_completion(client);
        }
    }

    pub(crate) fn after_completion(&mut self, client: usize) {
        let at = match self.phase {
            Phase::Workload => {
                let mean = self.mean_think_ns();
                self.now + self.clients[client].think_ns(mean)
            }
            Phase::Final => self.now,
            Phase::Recovery => return,
        };
        self.queue.push(at, Event::ClientNext { client });
    }

    pub(crate) fn client_next(&mut self, client: usize) {
        if self.clients[client].pending.is_some() {
            return;
        }
        let invocation = match self.phase {
            Phase::Workload => self.clients[client].next_invocation(),
            Phase::Final => match self.clients[client].final_ops.pop_front() {
                Some(inv) => inv,
                None => return,
            },
            Phase::Recovery => return,
        };
        let c = &mut self.clients[client];
        self.history.invoke(c.process, &invocation, self.now);
        let (body, targets) = c.start(invocation, self.now);
        let timestamp = c.pending.as_ref().map_or(0, |p| p.timestamp);
        self.invoked.insert(ExecutedRequest {
            client: c.id(),
            timestamp,
        });
        for to in targets {
            self.send_request(client, to as usize, &body);
        }
        let cfg = &self.config;
        self.queue.push(
            self.now + ms(cfg.client_retransmit_ms),
            Event::ClientRetransmit { client, timestamp },
        );
        self.queue.push(
            self.now + ms(cfg.op_timeout_ms),
            Event::ClientTimeout { client, timestamp },
        );
    }

    pub(crate) fn send_request(&mut self, client: usize, to: usize, body: &Bytes) {
        for (delay, copy) in self.network.fate(Link::client(to), true, body) {
            self.queue.push(
                self.now + delay,
                Event::Request {
                    client,
                    to,
                    body: copy,
                },
            );
        }
    }
}
