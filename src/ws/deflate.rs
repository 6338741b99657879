//! (being written: see /work/ws-contract.md)
