"""Course tooling: executing the notebook series (papermill) and checking notebook parameters."""
