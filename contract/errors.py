"""The one error a contract check raises."""


class ContractError(Exception):
    """A model version that breaks the contract: incomplete, tampered with or malformed."""
