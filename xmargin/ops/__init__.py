"""Operations: deploy, the liquidation keeper, the crowd of test traders.

May import `xmargin.maths` and `xmargin.chain`, never `xmargin.ui`.
"""
