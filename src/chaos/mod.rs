//! Fault injection: the TCP fault proxy ([`proxy`]), and the faults a drill's timeline
//! applies to servers and connections.

pub mod proxy;
