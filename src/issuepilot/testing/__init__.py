"""Local stand-ins for the services IssuePilot talks to: for tests, the demo, users' tests."""
