import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module';

async function bootstrap(): Promise<void> {
  const app = await NestFactory.create(AppModule);
  app.enableShutdownHooks(); // closes the ZooKeeper session on SIGTERM/SIGINT, so held locks free at once
  const port = Number(process.env.PORT ?? 3000);
  await app.listen(port);
  console.log(`sample app listening on http://localhost:${port}`);
}

void bootstrap();
