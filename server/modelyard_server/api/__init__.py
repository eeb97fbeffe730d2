"""Thin gRPC servicers: decode, authenticate, call the domain, encode, map errors."""
