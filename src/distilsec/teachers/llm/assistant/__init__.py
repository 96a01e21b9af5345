"""The local CTI assistant: closed- and open-book answers with citations, multiple-choice answering, HTTP.

Heavy pieces (llama.cpp, the retrieval index) are passed in or imported lazily by the callers.
"""
