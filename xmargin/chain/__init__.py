"""Chain access: connection, deployment records and configs, ABIs, batched reads.

May import `xmargin.maths`, never `xmargin.ops` or `xmargin.ui`.
"""
