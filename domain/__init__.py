"""The project's vocabulary, with no I/O and nothing below it: the states of every lifecycle
(one spelling each, and the sets of them the code asks about), workflow ids, search attribute
names and roles. models, core, services, api, workflows and the approval engine import it;
nothing here imports them."""
