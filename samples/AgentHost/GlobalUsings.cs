// What most of the sample's files use: the manager, the chat abstractions its models implement, and the container.
global using Microsoft.Extensions.AI;
global using Microsoft.Extensions.DependencyInjection;
global using ModelManager;
