# pragma version 0.4.3
"""
@title xmargin signed fixed-point helpers
@notice Vyper's `//` on signed integers truncates toward zero. Margin maths
        needs to say which way each division rounds, so every signed
        division goes through one of these. All take a positive divisor.
        `xmargin/model.py` mirrors each one.
"""


@internal
@pure
def _floor_div(a: int256, b: int256) -> int256:
    """
    @dev floor(a / b) for b > 0: toward minus infinity.
    """
    q: int256 = a // b
    if a % b != 0 and a < 0:
        q -= 1
    return q


@internal
@pure
def _ceil_div(a: int256, b: int256) -> int256:
    """
    @dev ceil(a / b) for b > 0: toward plus infinity.
    """
    q: int256 = a // b
    if a % b != 0 and a > 0:
        q += 1
    return q


@internal
@pure
def _ceil_div_u(a: uint256, b: uint256) -> uint256:
    """
    @dev ceil(a / b) for unsigned a and b > 0.
    """
    q: uint256 = a // b
    if a % b != 0:
        q += 1
    return q


@internal
@pure
def _abs(a: int256) -> uint256:
    """
    @dev |a| as uint256 (a > min_value(int256), which every caller's bounds ensure).
    """
    return convert(abs(a), uint256)
