"""Everything that talks to MLflow: the connection, the registry, and the logged contract.

The rest of the package never imports MLflow; these modules import it inside functions so
that importing them stays cheap.
"""
