// The usings most test files share, so that their headers name only what is particular to them.
global using Microsoft.Extensions.DependencyInjection;
global using Microsoft.Extensions.Time.Testing;
global using static ModelManager.Tests.TestManagers;
