"""erts-kit: explanation-guided sample selection (ERTS) on top of Progressive Data Dropout for ECGs."""
__version__ = "0.1.0"
