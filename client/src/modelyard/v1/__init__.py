"""Generated from protos/modelyard/v1 by `make proto`. Do not edit."""
