"""What the test layers share: servers to test against, databases, builders and readers.

No test module imports from another test module; what two of them need lives here.
"""
