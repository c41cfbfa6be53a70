"""A torch.compile backend: Inductor with a budget for the activations kept for backward."""
from typing import Any, Callable, Optional, Sequence

import torch


def inductor_with_memory_budget(budget: float) -> Callable:
    """Inductor, splitting graphs into forward and backward under AOTAutograd's
    ``activation_memory_budget`` (1: the default split; lower: recompute more).

    A backend of its own rather than a process-wide setting: the budget applies only to the
    graphs compiled through it, and Dynamo recompiles a function for a new budget instead
    of reusing code compiled under another. ``mode`` and ``options`` mean what they mean
    to ``torch.compile`` with Inductor.
    """
    from torch._inductor import list_mode_options
    from torch._inductor.compile_fx import compile_fx

    def backend(graph: torch.fx.GraphModule, example_inputs: Sequence[Any],
                mode: Optional[str] = None, options: Optional[dict] = None) -> Callable:
        patches = {**(list_mode_options(mode) if mode else {}), **(options or {})}
        with torch._functorch.config.patch(activation_memory_budget=budget):
            return compile_fx(graph, example_inputs, config_patches=patches)

    return backend
